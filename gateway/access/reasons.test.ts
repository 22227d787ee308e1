import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASONS } from './reasons.js';

describe('reason codes', () => {
  it('docs/access.md documents every reason code with the same wording, and no other', () => {
    const doc = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('### Reason codes'), doc.indexOf('### Flags'));
    const documented = Object.fromEntries([...section.matchAll(/^\| `([a-z_]+)` \| (.+) \|$/gm)].map(([, code, text]) => [code, text]));
    expect(documented).toEqual(REASONS);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GatehouseError, errorCodeOf, isGatehouseError } from './errors.js';

describe('error registry', () => {
  const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...docs.matchAll(/^\| `(GH_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));

  it('documents every registered code in docs/errors.md', () => {
    const missing = Object.keys(ERROR_CODES).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
  });

  it('documents no code that the registry does not have', () => {
    const stale = [...documented].filter((c) => !(c! in ERROR_CODES));
    expect(stale).toEqual([]);
  });

  it('uses the GH_ prefix and upper snake case for every code', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^GH_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  it('carries the code on thrown errors and reports GH_INTERNAL for anything else', () => {
    const err = new GatehouseError('GH_OUTBOX_FULL', 'full', { bytes: 1 });
    expect(isGatehouseError(err, 'GH_OUTBOX_FULL')).toBe(true);
    expect(isGatehouseError(err, 'GH_USAGE')).toBe(false);
    expect(errorCodeOf(err)).toBe('GH_OUTBOX_FULL');
    expect(errorCodeOf(new Error('x'))).toBe('GH_INTERNAL');
  });
});

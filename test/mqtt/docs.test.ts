import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodePayload, payloadJsonSchemas, INBOUND_SCHEMAS } from '../../drivers/mqtt/payloads.js';

const doc = readFileSync(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');

describe('docs/mqtt.md stays in step with the code', () => {
  it('carries the exact JSON Schema of every payload', () => {
    for (const [name, schema] of Object.entries(payloadJsonSchemas())) {
      expect(doc, `schema of ${name}`).toContain('```json\n' + JSON.stringify(schema, null, 2) + '\n```');
    }
  });

  it('shows examples that the gateway accepts', () => {
    const examples: Array<[keyof typeof INBOUND_SCHEMAS, RegExp]> = [
      ['scan', /\{ "id": "7f3a", "credential".*\}/],
      ['interaction', /\{ "item": "jersey-23".*\}/],
      ['ack', /\{ "contentId": "01JD3W…", "status": "shown" \}/],
      ['sighting', /\{ "beacon": "cafe-1".*\}/],
    ];
    for (const [leaf, pattern] of examples) {
      const text = doc.match(pattern)?.[0];
      expect(text, leaf).toBeDefined();
      expect(decodePayload(INBOUND_SCHEMAS[leaf] as never, Buffer.from(text!)).ok, leaf).toBe(true);
    }
  });
});

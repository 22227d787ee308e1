import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ackPayload, decodePayload, interactionPayload, payloadJsonSchemas, scanPayload, sightingPayload, statusPayload } from './payloads.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('MQTT payload decoding', () => {
  it('accepts a minimal and a full scan', () => {
    expect(decodePayload(scanPayload, json({ id: 'r', credential: { kind: 'card', value: '12:345' } }))).toEqual({ ok: true, value: { id: 'r', credential: { kind: 'card', value: '12:345' } } });
    const full = { id: 'r', credential: { kind: 'mobile', value: 'abc', format: 'wallet' }, reader: 'in', at: '2026-01-01T10:00:00+01:00' };
    expect(decodePayload(scanPayload, json(full))).toEqual({ ok: true, value: full });
    expect(decodePayload(scanPayload, json({ ...full, at: 1767222000000 })).ok).toBe(true);
  });

  it.each([
    ['not JSON', Buffer.from('{nope'), /^not JSON/],
    ['an array', json([]), /^schema/],
    ['an unknown key', json({ id: 'r', credential: { kind: 'card', value: '1' }, extra: 1 }), /extra/],
    ['an unknown kind', json({ id: 'r', credential: { kind: 'dna', value: '1' } }), /credential\.kind/],
    ['an empty value', json({ id: 'r', credential: { kind: 'card', value: '' } }), /credential\.value/],
    ['control bytes', json({ id: 'r', credential: { kind: 'card', value: 'a\nb' } }), /control characters/],
    ['a long id', json({ id: 'x'.repeat(65), credential: { kind: 'card', value: '1' } }), /id/],
    ['a bad time', json({ id: 'r', credential: { kind: 'card', value: '1' }, at: 'yesterday' }), /at/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /^not JSON/],
  ])('refuses a scan with %s, saying why', (_name, bytes, why) => {
    const r = decodePayload(scanPayload, bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('GH_MQTT_PAYLOAD');
      expect(r.message).toMatch(why);
    }
  });

  it('bounds interaction data to 32 keys', () => {
    const data = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    expect(decodePayload(interactionPayload, json({ item: 'a', action: 'tap', data })).ok).toBe(false);
    expect(decodePayload(interactionPayload, json({ item: 'a', action: 'tap', data: { ok: true, n: null } })).ok).toBe(true);
  });

  it('checks ack status, sighting RSSI and status state', () => {
    expect(decodePayload(ackPayload, json({ contentId: 'c', status: 'played' })).ok).toBe(false);
    expect(decodePayload(sightingPayload, json({ beacon: 'b', rssi: -200 })).ok).toBe(false);
    expect(decodePayload(sightingPayload, json({ beacon: 'b', rssi: -70 })).ok).toBe(true);
    expect(decodePayload(statusPayload, json({ state: 'online' })).ok).toBe(true);
  });

  it('never throws, whatever the bytes (property)', () => {
    for (const schema of [scanPayload, interactionPayload, ackPayload, sightingPayload, statusPayload] as Array<z.ZodType<unknown>>) {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue().map((v) => new Uint8Array(json(v)))), (bytes) => {
          const r = decodePayload(schema, bytes);
          expect(r.ok || r.code === 'GH_MQTT_PAYLOAD').toBe(true);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('round-trips any valid scan through JSON (property)', () => {
    const printable = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/\p{Cc}/u.test(s));
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom('card', 'pin', 'barcode', 'mobile'), printable, (id, kind, value) => {
        const scan = { id, credential: { kind, value } };
        expect(decodePayload(scanPayload, json(scan))).toEqual({ ok: true, value: scan });
      }),
    );
  });

  it('exports a JSON Schema for every topic of the contract', () => {
    const schemas = payloadJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual(['ack', 'content', 'decision', 'error', 'interaction', 'scan', 'sighting', 'status']);
    expect(schemas.scan).toMatchObject({ type: 'object', required: ['id', 'credential'], additionalProperties: false });
  });
});

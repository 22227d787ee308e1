import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeCard } from '../wiegand/formats.js';
import { encodeFrame } from './frame.js';
import { explainOsdpBytes, explainOsdpHex, parseHex, type ExplainResult } from './explain.js';
import { encodeRaw, REPLY } from './replies.js';
import { CMD, encodeLed } from './commands.js';

describe('parseHex', () => {
  it('accepts the separators technicians paste', () => {
    expect(parseHex('0x53 65:08,00-04\n60 60 90')).toEqual(Buffer.from('5365080004606090', 'hex'));
  });
  it('names what is wrong with bad input', () => {
    expect(parseHex('')).toEqual({ error: 'no hex digits given' });
    expect(parseHex('53 6')).toMatchObject({ error: expect.stringMatching(/odd number/) });
    expect(parseHex('53 zz')).toMatchObject({ error: expect.stringMatching(/not hex/) });
    expect(explainOsdpHex('xyz')).toMatchObject({ ok: false, error: expect.stringMatching(/not hex/) });
  });
});

describe('explainOsdpHex', () => {
  it('decodes the issue vectors: POLL to 0x65 and NAK from 0x65', () => {
    const r = explainOsdpHex('53 65 08 00 04 60 60 90 53 E5 09 00 05 41 01 0E 8F') as ExplainResult;
    expect(r.ok).toBe(true);
    expect(r.items).toMatchObject([
      { kind: 'frame', address: 0x65, direction: 'command (CP -> PD)', sequence: 0, checkOk: true, check: 'crc16', name: 'POLL' },
      { kind: 'frame', address: 0x65, direction: 'reply (PD -> CP)', sequence: 1, name: 'NAK', fields: { code: 1, reason: 'bad_checksum_or_crc' } },
    ]);
  });

  it('decodes RAW card data through the Wiegand formats', () => {
    const raw = encodeFrame({ address: 1, reply: true, sequence: 2, code: REPLY.RAW, data: encodeRaw(0, encodeCard('H10301', { facility: 12, card: 3456 })) });
    const r = explainOsdpBytes(raw);
    expect(r.items[0]).toMatchObject({ name: 'RAW', fields: { bitCount: 26, card: { format: 'H10301', facility: 12, card: '3456', credential: '12:3456' } } });
  });

  it('explains a parity failure in card data', () => {
    const bits = encodeCard('H10301', { facility: 12, card: 3456 });
    const flipped = (bits[0] === '1' ? '0' : '1') + bits.slice(1);
    const r = explainOsdpBytes(encodeFrame({ address: 1, reply: true, sequence: 2, code: REPLY.RAW, data: encodeRaw(0, flipped) }));
    expect(r.items[0]).toMatchObject({ fields: { card: { error: 'parity' } } });
  });

  it('decodes command fields (LED) and marks encrypted payloads as such', () => {
    const led = encodeFrame({ address: 2, sequence: 1, code: CMD.LED, data: encodeLed({ reader: 0, led: 0, color: 'green', onMs: 2000, offMs: 0, offColor: 'green', durationMs: 2000 }) });
    expect(explainOsdpBytes(led).items[0]).toMatchObject({ name: 'LED', fields: { records: [{ color: 'green', durationMs: 2000 }] } });
    const enc = encodeFrame({ address: 2, sequence: 1, code: CMD.LED, scb: { type: 0x17, data: Buffer.alloc(0) }, data: Buffer.alloc(16, 7), mac: () => Buffer.alloc(16, 1) });
    expect(explainOsdpBytes(enc).items[0]).toMatchObject({ securityBlock: { type: '0x17' }, mac: '01010101', fields: { encrypted: true } });
  });

  it('explains garbage, a bad CRC and a truncated frame, in byte order', () => {
    const bad = encodeFrame({ address: 0, sequence: 0, code: CMD.POLL });
    bad[bad.length - 1]! ^= 0x10;
    const good = encodeFrame({ address: 0, sequence: 1, code: CMD.POLL });
    const buf = Buffer.concat([Buffer.from([1, 2, 3]), bad, good, Buffer.from([0x53, 0x00, 0x20, 0x00, 0x04])]);
    const r = explainOsdpBytes(buf);
    expect(r.ok).toBe(false);
    expect(r.items.map((i) => [i.kind, i.reason ?? i.name])).toEqual([
      ['error', 'garbage'],
      ['error', 'crc'],
      ['frame', 'POLL'],
      ['incomplete', 'truncated'],
    ]);
    expect(String(r.items[1]!.explanation)).toMatch(/the frame says 0x[0-9a-f]{4}, its bytes give 0x[0-9a-f]{4}/);
    expect(String(r.items[3]!.explanation)).toMatch(/declares 32 bytes, but only 5/);
  });

  it('explains an oversize length and a wrong checksum', () => {
    const r = explainOsdpHex('53 00 ff 7f 04 60') as ExplainResult;
    expect(r.items[0]).toMatchObject({ code: 'GH_OSDP_OVERSIZE', explanation: expect.stringMatching(/corrupt length/) });
    const ck = encodeFrame({ address: 0, sequence: 0, code: CMD.POLL, useCrc: false });
    ck[ck.length - 1]! ^= 1;
    expect(explainOsdpBytes(ck).items[0]).toMatchObject({ reason: 'checksum' });
  });

  it('never throws and stays JSON-able for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (arr) => {
        const r = explainOsdpBytes(Buffer.from(arr));
        expect(() => JSON.stringify(r)).not.toThrow();
      }),
    );
  });
});

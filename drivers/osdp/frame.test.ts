import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checksum8, crc16, decodeFrames, encodeFrame, pendingFrameLength, type OsdpFrame } from './frame.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

// Test vectors: issue #4 and SIA OSDP 2.2 Annex E (as reproduced in libosdp tests/unit-tests/test-sc-sia-vectors.c).
const VECTORS = [
  { name: 'POLL to 0x65 (issue #4)', bytes: '53 65 08 00 04 60 60 90', address: 0x65, reply: false, sequence: 0, code: 0x60, data: '' },
  { name: 'ID to 0 (issue #4, Annex E CRC example 2)', bytes: '53 00 09 00 04 61 00 C0 66', address: 0, reply: false, sequence: 0, code: 0x61, data: '00' },
  { name: 'NAK from 0x65 (issue #4)', bytes: '53 E5 09 00 05 41 01 0E 8F', address: 0x65, reply: true, sequence: 1, code: 0x41, data: '01' },
  { name: 'COMSET broadcast (Annex E CRC example 1)', bytes: '53 7F 0D 00 04 6E 00 80 25 00 00 6E 38', address: 0x7f, reply: false, sequence: 0, code: 0x6e, data: '0080250000' },
  { name: 'COMSET broadcast, checksum (Annex E checksum example 1)', bytes: '53 7F 0C 00 00 6E 00 80 25 00 00 0F', address: 0x7f, reply: false, sequence: 0, code: 0x6e, data: '0080250000' },
  { name: 'ID to 0, checksum (Annex E checksum example 2)', bytes: '53 00 08 00 00 61 00 44', address: 0, reply: false, sequence: 0, code: 0x61, data: '00' },
];

describe('CRC-16/AUG-CCITT and checksum', () => {
  it('has the catalogue check value 0xE5CC for "123456789"', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0xe5cc);
  });
  it('computes the Annex E checksum examples', () => {
    expect(checksum8(hex('53 7F 0C 00 00 6E 00 80 25 00 00'))).toBe(0x0f);
    expect(checksum8(hex('53 00 08 00 00 61 00'))).toBe(0x44);
  });
});

describe('published frame vectors', () => {
  for (const v of VECTORS) {
    it(`decodes ${v.name}`, () => {
      const { frames, rest, errors } = decodeFrames(hex(v.bytes));
      expect(errors).toEqual([]);
      expect(rest.length).toBe(0);
      expect(frames).toHaveLength(1);
      expect(frames[0]).toMatchObject({ address: v.address, reply: v.reply, sequence: v.sequence, code: v.code });
      expect(frames[0]!.data.toString('hex')).toBe(v.data);
    });
    it(`encodes ${v.name} byte for byte`, () => {
      const useCrc = (hex(v.bytes)[4]! & 0x04) !== 0;
      expect(encodeFrame({ address: v.address, reply: v.reply, sequence: v.sequence, code: v.code, data: hex(v.data), useCrc }).toString('hex')).toBe(hex(v.bytes).toString('hex'));
    });
  }
});

function feedInPieces(stream: Buffer, cuts: number[]): { frames: OsdpFrame[]; errors: number } {
  let rest: Buffer = Buffer.alloc(0);
  const frames: OsdpFrame[] = [];
  let errors = 0;
  let prev = 0;
  for (const cut of [...cuts, stream.length]) {
    const r = decodeFrames(Buffer.concat([rest, stream.subarray(prev, cut)]));
    frames.push(...r.frames);
    errors += r.errors.length;
    rest = r.rest;
    prev = cut;
  }
  return { frames, errors };
}

describe('decodeFrames', () => {
  const stream = Buffer.concat(VECTORS.map((v) => hex(v.bytes)));

  it('finds every frame whatever byte boundary the input is split at', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames, errors } = feedInPieces(stream, [cut]);
      expect(errors, `cut at ${cut}`).toBe(0);
      expect(frames.map((f) => f.code), `cut at ${cut}`).toEqual(VECTORS.map((v) => v.code));
    }
  });

  it('finds every frame when fed one byte at a time', () => {
    const { frames } = feedInPieces(stream, Array.from({ length: stream.length }, (_, i) => i));
    expect(frames).toHaveLength(VECTORS.length);
  });

  it('skips leading 0xFF marks without calling them garbage', () => {
    const r = decodeFrames(Buffer.concat([hex('FF FF'), hex(VECTORS[0]!.bytes)]));
    expect(r.frames).toHaveLength(1);
    expect(r.errors).toEqual([]);
  });

  it('reports garbage before a frame and still decodes the frame', () => {
    const r = decodeFrames(Buffer.concat([hex('01 02 03'), hex(VECTORS[0]!.bytes)]));
    expect(r.frames).toHaveLength(1);
    expect(r.errors).toMatchObject([{ code: 'GH_OSDP_BAD_FRAME', reason: 'garbage', offset: 0 }]);
  });

  it('rejects a wrong CRC and resynchronises on the next frame', () => {
    const bad = hex(VECTORS[0]!.bytes);
    bad[bad.length - 1]! ^= 1;
    const r = decodeFrames(Buffer.concat([bad, hex(VECTORS[1]!.bytes)]));
    expect(r.frames.map((f) => f.code)).toEqual([0x61]);
    expect(r.errors[0]).toMatchObject({ code: 'GH_OSDP_BAD_CRC', reason: 'crc' });
  });

  it('rejects a wrong checksum', () => {
    const bad = hex(VECTORS[5]!.bytes);
    bad[bad.length - 1]! ^= 1;
    expect(decodeFrames(bad).errors[0]).toMatchObject({ code: 'GH_OSDP_BAD_CRC', reason: 'checksum' });
  });

  it('rejects oversize and undersize length fields without waiting for them', () => {
    const big = decodeFrames(hex('53 00 FF 7F 04 60 00 00'));
    expect(big.errors[0]).toMatchObject({ code: 'GH_OSDP_OVERSIZE', reason: 'length_too_large' });
    expect(big.rest.length).toBe(0);
    const small = decodeFrames(hex('53 00 03 00 04 60 00 00'));
    expect(small.errors[0]).toMatchObject({ code: 'GH_OSDP_BAD_FRAME', reason: 'length_too_small' });
  });

  it('keeps a truncated frame as rest and tells its declared length', () => {
    const r = decodeFrames(hex('53 00 09 00 04 61'));
    expect(r.frames).toEqual([]);
    expect(r.rest.length).toBe(6);
    expect(pendingFrameLength(r.rest)).toBe(9);
    expect(pendingFrameLength(hex('53 00'))).toBeUndefined();
  });

  it('parses a security block and a MAC', () => {
    const f = encodeFrame({ address: 3, sequence: 2, scb: { type: 0x15, data: Buffer.alloc(0) }, code: 0x60, mac: () => hex('A1A2A3A4A5A6A7A8A9AAABACADAEAFB0') });
    const [frame] = decodeFrames(f).frames;
    expect(frame!.scb).toMatchObject({ type: 0x15 });
    expect(frame!.mac!.toString('hex')).toBe('a1a2a3a4');
    expect(frame!.data.length).toBe(0);
    expect(() => encodeFrame({ address: 3, sequence: 2, scb: { type: 0x15, data: Buffer.alloc(0) }, code: 0x60 })).toThrow(/MAC/);
  });

  it('reports a security block that does not fit as a bad frame', () => {
    const raw = hex('53 00 0A 00 0C 09 11 60');
    const withCrc = Buffer.concat([raw, Buffer.alloc(2)]);
    withCrc.writeUInt16LE(crc16(withCrc, 0, 8), 8);
    expect(decodeFrames(withCrc).errors[0]).toMatchObject({ code: 'GH_OSDP_BAD_FRAME', reason: 'bad_security_block' });
  });
});

const frameArb = fc.record({
  address: fc.integer({ min: 0, max: 0x7f }),
  reply: fc.boolean(),
  sequence: fc.integer({ min: 0, max: 3 }),
  useCrc: fc.boolean(),
  code: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
  scb: fc.option(fc.record({ type: fc.constantFrom(0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18), data: fc.uint8Array({ maxLength: 2 }).map((a) => Buffer.from(a)) }), { nil: undefined }),
});

describe('decodeFrames properties', () => {
  it('round-trips any encoded frame', () => {
    fc.assert(
      fc.property(frameArb, (input) => {
        const bytes = encodeFrame({ ...input, mac: () => Buffer.alloc(16, 0xab) });
        const { frames, errors, rest } = decodeFrames(bytes);
        expect(errors).toEqual([]);
        expect(rest.length).toBe(0);
        expect(frames).toHaveLength(1);
        const f = frames[0]!;
        expect([f.address, f.reply, f.sequence, f.useCrc, f.code]).toEqual([input.address, input.reply, input.sequence, input.useCrc, input.code]);
        expect(f.data.equals(input.data)).toBe(true);
      }),
    );
  });

  it('never throws on random bytes and always accounts for every byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (arr) => {
        const buf = Buffer.from(arr);
        const { frames, rest } = decodeFrames(buf);
        expect(rest.length).toBeLessThanOrEqual(buf.length);
        for (const f of frames) expect(buf.includes(f.raw)).toBe(true);
      }),
    );
  });

  it('finds a valid frame after any garbage once the garbage is flushed out', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), frameArb, (garbage, input) => {
        const good = encodeFrame({ ...input, mac: () => Buffer.alloc(16, 1) });
        // A receiver gives up on a half-frame at the reply timeout: model it by feeding garbage, dropping rest, then the frame.
        const first = decodeFrames(Buffer.from(garbage));
        expect(Array.isArray(first.errors)).toBe(true);
        const second = decodeFrames(good);
        expect(second.frames).toHaveLength(1);
        // And a garbage prefix without SOM bytes is skipped in the same call.
        const noSom = Buffer.from(garbage.filter((b) => b !== 0x53));
        const both = decodeFrames(Buffer.concat([noSom, good]));
        expect(both.frames.map((f) => f.raw.toString('hex'))).toContain(good.toString('hex'));
      }),
    );
  });
});

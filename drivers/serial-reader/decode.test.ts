import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serialFramingSchema, type SerialFraming } from './config.js';
import { decodeSerialFrames } from './decode.js';
import { encodeSerialFrame } from './sim.js';

const framing = (f: Record<string, unknown>): SerialFraming => serialFramingSchema.parse(f);
const RDM6300 = framing({ delimiter: { kind: 'stx-etx' }, encoding: 'ascii-hex', checksum: 'xor', dropBytes: 1 });

/** Feeds `bytes` in the given chunks, carrying `rest` over as the driver does. */
function feedChunks(chunks: readonly Buffer[], f: SerialFraming) {
  let rest: Buffer = Buffer.alloc(0);
  const values: string[] = [];
  const errors: string[] = [];
  for (const c of chunks) {
    const r = decodeSerialFrames(Buffer.concat([rest, c]), f);
    rest = r.rest;
    values.push(...r.frames.map((x) => x.value));
    errors.push(...r.errors.map((e) => e.detail));
  }
  return { values, errors, rest };
}

describe('decodeSerialFrames', () => {
  it('decodes an RDM6300 125 kHz frame: STX, 10 hex digits, XOR checksum, ETX; the version byte dropped', () => {
    const bytes = Buffer.from('\x020F00A6D2E59E\x03', 'latin1');
    const r = decodeSerialFrames(bytes, RDM6300);
    expect(r).toMatchObject({ frames: [{ value: '10932965' }], errors: [], rest: Buffer.alloc(0) });
    expect(encodeSerialFrame('0F00A6D2E5', RDM6300)).toEqual(bytes);
  });

  it('rejects a frame whose checksum does not match', () => {
    const r = decodeSerialFrames(Buffer.from('\x020F00A6D2E59F\x03', 'latin1'), RDM6300);
    expect(r.frames).toEqual([]);
    expect(r.errors[0]!.detail).toContain('xor checksum 0x9e does not match 0x9f');
  });

  it('decodes CR/LF-terminated decimal lines, little-endian binary with a sum and fixed-length frames', () => {
    expect(decodeSerialFrames(Buffer.from('0012345678\r\n0000000042\r\n00'), framing({ delimiter: { kind: 'line' }, encoding: 'ascii-decimal' }))).toMatchObject({
      frames: [{ value: '12345678' }, { value: '42' }],
      rest: Buffer.from('00'),
    });
    expect(decodeSerialFrames(Buffer.from('0012345678\r\n'), framing({ delimiter: { kind: 'line', ending: 'crlf' }, encoding: 'ascii-decimal', output: 'text' })).frames[0]!.value).toBe('0012345678');
    const le = framing({ delimiter: { kind: 'stx-etx' }, encoding: 'binary', checksum: 'sum', byteOrder: 'little' });
    expect(decodeSerialFrames(encodeSerialFrame('78563412', le), le).frames[0]!.value).toBe(String(0x12345678));
    const fixed = framing({ delimiter: { kind: 'fixed', length: 8 }, encoding: 'ascii-hex', output: 'hex' });
    expect(decodeSerialFrames(Buffer.from('00ABCDEF0000000112'), fixed)).toMatchObject({ frames: [{ value: '00ABCDEF' }, { value: '00000001' }], rest: Buffer.from('12') });
  });

  it('counts garbage outside frames, cut-short frames and non-hex payloads without losing the next good frame', () => {
    const good = encodeSerialFrame('0F00A6D2E5', RDM6300);
    const r = decodeSerialFrames(Buffer.concat([Buffer.from('zz'), Buffer.from('\x020F00', 'latin1'), good, Buffer.from('\x02XYZ\x03', 'latin1'), good]), RDM6300);
    expect(r.frames.map((f) => f.value)).toEqual(['10932965', '10932965']);
    expect(r.errors.map((e) => e.detail)).toEqual(['2 byte(s) outside a frame', 'frame cut short by a new STX', 'payload "XYZ" is not hex']);
  });

  it('drops a frame that never ends instead of buffering forever', () => {
    const f = framing({ delimiter: { kind: 'line', ending: 'lf' }, encoding: 'ascii-decimal', maxFrameBytes: 16 });
    expect(decodeSerialFrames(Buffer.from('1'.repeat(40)), f)).toMatchObject({ frames: [], rest: Buffer.alloc(0), errors: [{ detail: '40 bytes without a line ending' }] });
    expect(decodeSerialFrames(Buffer.from('\x02' + '1'.repeat(100), 'latin1'), RDM6300).errors[0]!.detail).toContain('no ETX');
  });

  const framings: Array<[string, SerialFraming]> = [
    ['stx-etx hex xor', RDM6300],
    ['crlf decimal', framing({ delimiter: { kind: 'line', ending: 'crlf' }, encoding: 'ascii-decimal', checksum: 'sum' })],
    ['cr hex', framing({ delimiter: { kind: 'line', ending: 'cr' }, encoding: 'ascii-hex', output: 'hex' })],
    ['fixed binary', framing({ delimiter: { kind: 'fixed', length: 5 }, encoding: 'binary', checksum: 'xor', output: 'hex' })],
    ['stx-etx binary', framing({ delimiter: { kind: 'stx-etx', stx: 0xaa, etx: 0xbb }, encoding: 'binary', checksum: 'xor' })],
  ];

  it.each(framings)('gives the same frames however the stream is split (%s)', (_name, f) => {
    const payloads = f.encoding === 'ascii-decimal' ? ['0012345678', '99', '4000000001'] : f.delimiter.kind === 'fixed' ? ['01020304', 'a1b2c3d4'] : ['0f00a6d2e5', '0102030405'];
    // A binary payload must not contain the delimiters.
    const stream = Buffer.concat(payloads.map((p) => encodeSerialFrame(p, f)));
    const whole = feedChunks([stream], f);
    expect(whole.errors).toEqual([]);
    expect(whole.values).toHaveLength(payloads.length);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const cut2 of [cut, Math.min(stream.length, cut + 1), Math.min(stream.length, cut + 3)]) {
        const split = feedChunks([stream.subarray(0, cut), stream.subarray(cut, cut2), stream.subarray(cut2)], f);
        expect(split.values).toEqual(whole.values);
        expect(split.errors).toEqual([]);
      }
    }
  });

  it('never throws on arbitrary bytes and keeps the leftover bounded', () => {
    fc.assert(fc.property(fc.constantFrom(...framings.map(([, f]) => f)), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 10 }), (f, chunks) => {
      const r = feedChunks(chunks.map((c) => Buffer.from(c)), f);
      expect(r.rest.length).toBeLessThanOrEqual(f.maxFrameBytes + 2);
      for (const v of r.values) expect(v).toMatch(/^[0-9A-F]+$/);
    }));
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPacketSizeScanner } from './framelimit.js';

function encodeLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function packet(bodyLength: number): Buffer {
  return Buffer.from([0x30, ...encodeLength(bodyLength), ...new Array<number>(bodyLength).fill(0x61)]);
}

/** Feeds `bytes` split at the given cut points; returns the first failing verdict or ok. */
function feedSplit(max: number, bytes: Buffer, cuts: number[]) {
  const scanner = createPacketSizeScanner(max);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const v = scanner.feed(bytes.subarray(from, to));
    if (!v.ok) return v;
    from = to;
  }
  return { ok: true as const };
}

describe('packet size scanner', () => {
  it('passes any stream of packets within the limit, however the chunks are split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (sizes, cuts) => {
        const bytes = Buffer.concat(sizes.map(packet));
        expect(feedSplit(310, bytes, cuts)).toEqual({ ok: true });
      }),
    );
  });

  it('flags the first packet over the limit, whatever the split, with its declared size', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 4 }), fc.integer({ min: 200, max: 300_000 }), fc.array(fc.nat(), { maxLength: 10 }), (before, big, cuts) => {
        const bytes = Buffer.concat([...before.map(packet), Buffer.from([0x30, ...encodeLength(big)])]);
        const v = feedSplit(150, bytes, cuts);
        expect(v).toEqual({ ok: false, reason: 'oversize', declaredBytes: 1 + encodeLength(big).length + big });
      }),
    );
  });

  it('rejects a Remaining Length of more than four bytes as malformed (MQTT-2.2.3)', () => {
    const scanner = createPacketSizeScanner(1 << 30);
    expect(scanner.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toEqual({ ok: false, reason: 'malformed' });
    expect(scanner.feed(Buffer.from([0x00]))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const v = createPacketSizeScanner(1000).feed(bytes);
        expect(typeof v.ok).toBe('boolean');
      }),
    );
  });
});

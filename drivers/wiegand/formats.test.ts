import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CARD_FORMATS, bitsToHex, cardFormat, checkParity, decodeCardBits, encodeCard, hexToBits } from './formats.js';

/**
 * An independent oracle for the Corporate 1000 layouts: the word-based packing
 * of the Proxmark3 client (LSB of `bot` = last bit on the wire), so a mistake in
 * translating its masks into wire positions shows up here.
 */
const parity32 = (x: bigint): number => {
  let n = 0;
  for (let v = x; v > 0n; v >>= 1n) n += Number(v & 1n);
  return n % 2;
};
const evenP = (x: bigint) => parity32(x);
const oddP = (x: bigint) => 1 - parity32(x);
function toBits(mid: bigint, bot: bigint, length: number): string {
  const value = (mid << 32n) | bot;
  return value.toString(2).padStart(length, '0');
}
function oracleC1k35(company: number, card: number): string {
  let bot = (BigInt(card) & 0xfffffn) << 1n;
  bot |= (BigInt(company) & 0x7ffn) << 21n;
  let mid = (BigInt(company) & 0x800n) >> 11n;
  mid |= BigInt(evenP((mid & 0x1n) ^ (bot & 0xb6db6db6n))) << 1n;
  bot |= BigInt(oddP((mid & 0x3n) ^ (bot & 0x6db6db6cn)));
  mid |= BigInt(oddP((mid & 0x3n) ^ bot)) << 2n;
  return toBits(mid, bot & 0xffffffffn, 35);
}
function oracleC1k48(company: number, card: number): string {
  let bot = (BigInt(card) & 0x7fffffn) << 1n;
  bot |= (BigInt(company) & 0xffn) << 24n;
  let mid = (BigInt(company) & 0x3fff00n) >> 8n;
  mid |= BigInt(evenP((mid & 0x1b6dn) ^ (bot & 0xb6db6db6n))) << 14n;
  bot |= BigInt(oddP((mid & 0x36dbn) ^ (bot & 0x6db6db6cn)));
  mid |= BigInt(oddP((mid & 0x7fffn) ^ bot)) << 15n;
  return toBits(mid, bot & 0xffffffffn, 48);
}

const fieldsOf = (name: string) => {
  const f = cardFormat(name)!;
  return fc.record({ facility: fc.integer({ min: 0, max: 2 ** f.facility.length - 1 }), card: fc.integer({ min: 0, max: 2 ** f.card.length - 1 }) });
};
const flip = (bits: string, i: number) => bits.slice(0, i) + (bits[i] === '1' ? '0' : '1') + bits.slice(i + 1);

describe('card formats: known frames', () => {
  it('encodes H10301 facility 1 card 1 with even leading and odd trailing parity', () => {
    // P0 = 1 (one 1 in bits 1-12), P25 = 0 (one 1 in bits 13-24 makes it odd already).
    expect(encodeCard('H10301', { facility: 1, card: 1 })).toBe('10000000100000000000000010');
  });

  it('decodes H10301 into "facility:card" with the format name', () => {
    const r = decodeCardBits(encodeCard('H10301', { facility: 123, card: 45678 }));
    expect(r).toEqual({ ok: true, format: 'H10301', bits: 26, facility: 123, card: '45678', credential: { kind: 'card', value: '123:45678', format: 'H10301' } });
  });

  it('matches the Proxmark3 word-based packing for Corporate 1000 35-bit', () => {
    fc.assert(fc.property(fieldsOf('C1000-35'), ({ facility, card }) => {
      expect(encodeCard('C1000-35', { facility, card })).toBe(oracleC1k35(facility, card));
    }));
  });

  it('matches the Proxmark3 word-based packing for Corporate 1000 48-bit', () => {
    fc.assert(fc.property(fieldsOf('C1000-48'), ({ facility, card }) => {
      expect(encodeCard('C1000-48', { facility, card })).toBe(oracleC1k48(facility, card));
    }));
  });

  it('names the failed parity bit', () => {
    const bits = flip(encodeCard('H10306', { facility: 7, card: 9 }), 33);
    const r = decodeCardBits(bits);
    expect(r).toMatchObject({ ok: false, reason: 'parity', format: 'H10306', bits: 34 });
    expect(r.ok ? '' : r.detail).toContain('trailing (odd, bit 33)');
  });

  it('rejects empty, over-long and non-binary input as invalid', () => {
    expect(decodeCardBits('')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeCardBits('1'.repeat(300))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decodeCardBits('0101x')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('rejects unknown lengths unless raw is allowed, then gives raw:<bits>:<hex>', () => {
    expect(decodeCardBits('1'.repeat(30))).toMatchObject({ ok: false, reason: 'unknown_format', bits: 30 });
    expect(decodeCardBits('000000000000000000000000001111', { allowRaw: true })).toMatchObject({ ok: true, format: 'raw', credential: { kind: 'card', value: 'raw:30:0000000f' } });
  });

  it('does not fall back to raw when a known-length frame fails parity', () => {
    const bits = flip(encodeCard('H10301', { facility: 1, card: 2 }), 5);
    expect(decodeCardBits(bits, { allowRaw: true })).toMatchObject({ ok: false, reason: 'parity' });
  });

  it('treats a format excluded by config as unknown', () => {
    const bits = encodeCard('H10301', { facility: 1, card: 2 });
    expect(decodeCardBits(bits, { formats: ['H10306'] })).toMatchObject({ ok: false, reason: 'unknown_format' });
    expect(decodeCardBits(bits, { formats: ['h10301'] })).toMatchObject({ ok: true });
  });

  it('refuses to encode a field that does not fit or an unknown format', () => {
    expect(() => encodeCard('H10301', { facility: 256, card: 1 })).toThrow(RangeError);
    expect(() => encodeCard('H10301', { facility: 1, card: -1 })).toThrow(RangeError);
    expect(() => encodeCard('nope', { facility: 1, card: 1 })).toThrow(/unknown card format/);
  });

  it('converts between hex and bits keeping the bit count', () => {
    expect(bitsToHex('0001')).toBe('1');
    expect(bitsToHex('')).toBe('');
    expect(hexToBits('0x0f', 6)).toBe('001111');
    expect(hexToBits('ff', 4)).toBeUndefined();
    expect(hexToBits('zz', 8)).toBeUndefined();
    expect(hexToBits('1', 0)).toBeUndefined();
  });
});

describe.each(CARD_FORMATS.map((f) => [f.name, f] as const))('card format %s (properties)', (name, format) => {
  it('round-trips encode -> decode for every field value', () => {
    fc.assert(fc.property(fieldsOf(name), ({ facility, card }) => {
      const r = decodeCardBits(encodeCard(name, { facility, card }));
      expect(r).toMatchObject({ ok: true, format: name, bits: format.bits, facility, card: String(card) });
      expect(r.ok && r.credential.value).toBe(`${facility}:${card}`);
    }));
  });

  it('catches any single flipped bit by parity', () => {
    fc.assert(fc.property(fieldsOf(name), fc.nat({ max: format.bits - 1 }), ({ facility, card }, i) => {
      const r = decodeCardBits(flip(encodeCard(name, { facility, card }), i));
      expect(r).toMatchObject({ ok: false, reason: 'parity', format: name });
    }));
  });

  it('never accepts a random frame of its length whose parity is bad', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('0', '1'), { minLength: format.bits, maxLength: format.bits }), (arr) => {
      const bits = arr.join('');
      const allOk = checkParity(format, bits).every((c) => c.ok);
      const r = decodeCardBits(bits, { allowRaw: true });
      expect(r.ok).toBe(allOk);
      if (r.ok) expect(encodeCard(name, { facility: r.facility!, card: Number(r.card) })).toBe(bits);
    }));
  });
});

describe('decodeCardBits on arbitrary input', () => {
  it('never throws and only yields raw or parity-valid credentials', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.boolean(), (s, allowRaw) => {
      const r = decodeCardBits(s, { allowRaw });
      if (r.ok && r.format !== 'raw') expect(checkParity(cardFormat(r.format)!, s).every((c) => c.ok)).toBe(true);
      if (r.ok && r.format === 'raw') expect(allowRaw).toBe(true);
    }));
  });
});

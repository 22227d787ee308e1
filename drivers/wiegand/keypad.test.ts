import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PinEntry, decodeKeyFrame, encodeKey } from './keypad.js';
import { classifyFrame } from './decode.js';
import { encodeCard } from './formats.js';

const KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

describe('keypad frames', () => {
  it('round-trips every key in 4- and 8-bit frames', () => {
    for (const key of KEYS) {
      expect(decodeKeyFrame(encodeKey(key, 4))).toEqual({ ok: true, key });
      expect(decodeKeyFrame(encodeKey(key, 8))).toEqual({ ok: true, key });
    }
    expect(encodeKey('1', 8)).toBe('11100001');
  });

  it('rejects 8-bit frames whose nibbles are not complements, and codes above 11', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), (v) => {
      const bits = v.toString(2).padStart(8, '0');
      const r = decodeKeyFrame(bits);
      const high = v >> 4;
      const low = v & 0xf;
      expect(r.ok).toBe((high ^ 0xf) === low && low <= 11);
    }));
    expect(decodeKeyFrame('1100')).toMatchObject({ ok: false });
    expect(decodeKeyFrame('101')).toMatchObject({ ok: false });
    expect(() => encodeKey('A', 4)).toThrow(RangeError);
  });
});

describe('PinEntry', () => {
  it('submits digits on # and clears on *', () => {
    const p = new PinEntry({ maxLength: 6, timeoutMs: 5000 });
    expect(p.key('1', 0)).toBeUndefined();
    p.key('2', 100);
    p.key('*', 200);
    p.key('4', 300);
    p.key('2', 400);
    expect(p.key('#', 500)).toEqual({ pin: '42' });
    expect(p.key('#', 600)).toBeUndefined();
  });

  it('discards a partial PIN when keys are further apart than the timeout', () => {
    const p = new PinEntry({ maxLength: 6, timeoutMs: 5000 });
    p.key('1', 0);
    p.key('2', 1000);
    expect(p.key('7', 7000)).toEqual({ discarded: 'timeout', length: 2 });
    expect(p.key('#', 7100)).toEqual({ pin: '7' });
  });

  it('discards a PIN longer than maxLength', () => {
    const p = new PinEntry({ maxLength: 3, timeoutMs: 5000 });
    ['1', '2', '3'].forEach((k, i) => p.key(k, i));
    expect(p.key('4', 10)).toEqual({ discarded: 'too_long', length: 4 });
    expect(p.pending).toBe(0);
  });
});

describe('classifyFrame', () => {
  it('sorts frames into keys, cards and coded rejections', () => {
    expect(classifyFrame(encodeKey('5', 4), { keypad: true })).toEqual({ kind: 'key', key: '5' });
    expect(classifyFrame('11111111', { keypad: true })).toMatchObject({ kind: 'reject', code: 'GH_WIEGAND_PARITY', format: 'keypad-8' });
    expect(classifyFrame(encodeKey('5', 4), { keypad: false })).toMatchObject({ kind: 'reject', code: 'GH_WIEGAND_NOISE', reason: 'short' });
    expect(classifyFrame('1'.repeat(12), { keypad: true, allowRaw: true })).toMatchObject({ kind: 'reject', code: 'GH_WIEGAND_NOISE' });
    expect(classifyFrame(encodeCard('H10301', { facility: 1, card: 1 }), { keypad: true })).toMatchObject({ kind: 'card', result: { credential: { value: '1:1' } } });
    expect(classifyFrame('1'.repeat(26), { keypad: true })).toMatchObject({ kind: 'reject', code: 'GH_WIEGAND_PARITY', format: 'H10301' });
    expect(classifyFrame('1'.repeat(30), { keypad: true })).toMatchObject({ kind: 'reject', code: 'GH_WIEGAND_FORMAT' });
  });

  it('never turns a random frame into a credential with bad parity or from a truncated frame', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('0', '1'), { minLength: 1, maxLength: 80 }), fc.boolean(), (arr, allowRaw) => {
      const bits = arr.join('');
      const c = classifyFrame(bits, { keypad: true, allowRaw });
      if (c.kind === 'card') {
        expect(bits.length).toBeGreaterThanOrEqual(24);
        if (c.result.format === 'raw') expect(allowRaw).toBe(true);
      }
    }));
  });
});

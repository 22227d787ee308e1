import { describe, expect, it } from 'vitest';
import { explainWiegand } from './explain.js';
import { bitsToHex, encodeCard } from './formats.js';
import { encodeKey } from './keypad.js';

describe('explainWiegand', () => {
  it('explains a good H10301 frame with facility, card, parity and credential', () => {
    const bits = encodeCard('H10301', { facility: 42, card: 1234 });
    expect(explainWiegand(bits)).toMatchObject({ ok: true, format: 'H10301', facility: 42, card: 1234, parityOk: true, credential: '42:1234', bitCount: 26 });
  });

  it('accepts separators between bit groups', () => {
    const bits = encodeCard('H10301', { facility: 42, card: 1234 });
    expect(explainWiegand(`${bits.slice(0, 1)} ${bits.slice(1, 9)}_${bits.slice(9, 25)}-${bits.slice(25)}`)).toMatchObject({ ok: true, card: 1234 });
  });

  it('names the Corporate 1000 field "company" and decodes hex with a bit count', () => {
    const bits = encodeCard('C1000-35', { facility: 4000, card: 777777 });
    expect(explainWiegand(bitsToHex(bits), { hex: true, bits: 35 })).toMatchObject({ ok: true, format: 'C1000-35', company: 4000, card: 777777 });
  });

  it('still shows the fields but says which parity failed', () => {
    const bits = encodeCard('H10304', { facility: 1, card: 2 });
    const bad = (bits[0] === '1' ? '0' : '1') + bits.slice(1);
    const out = explainWiegand(bad) as Record<string, unknown>;
    expect(out).toMatchObject({ ok: false, format: 'H10304', facility: 1, card: 2, parityOk: false });
    expect(out.error).toContain('leading (even, bit 0)');
    expect(out.credential).toBeUndefined();
  });

  it('explains keypad frames and unknown lengths', () => {
    expect(explainWiegand(encodeKey('#', 8))).toMatchObject({ ok: true, key: '#', format: 'keypad-8' });
    expect(explainWiegand('11111111')).toMatchObject({ ok: false, format: 'keypad-8' });
    expect(explainWiegand('1'.repeat(30))).toMatchObject({ ok: false, format: null, rawCredential: 'raw:30:3fffffff' });
  });

  it('reports bad input instead of throwing', () => {
    expect(explainWiegand('10201')).toMatchObject({ ok: false });
    expect(explainWiegand('ff', { hex: true })).toMatchObject({ ok: false, error: expect.stringContaining('--bits') });
    expect(explainWiegand('1ff', { hex: true, bits: 8 })).toMatchObject({ ok: false });
    expect(explainWiegand('0101', { bits: 5 })).toMatchObject({ ok: false, error: 'expected 5 bits, got 4' });
  });
});

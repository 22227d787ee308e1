import { bitsToHex, cardFormat, checkParity, decodeCardBits, hexToBits, MAX_FRAME_BITS } from './formats.js';
import { decodeKeyFrame } from './keypad.js';

/**
 * What `gatehouse decode wiegand` prints: installers compare a reader's
 * output with the card print. `input` is a string of 0/1 (spaces, `_` and `-`
 * allowed as separators), or hex with `opts.hex` and the bit count in `opts.bits`.
 * Never throws; a bad input gives `{ ok: false, error }`.
 */
export function explainWiegand(input: string, opts: { hex?: boolean; bits?: number } = {}): unknown {
  let bits: string | undefined;
  if (opts.hex) {
    if (opts.bits === undefined) return { ok: false, error: 'with --hex, give the bit count (--bits N): leading zero bits are not visible in hex' };
    bits = hexToBits(input.trim(), opts.bits);
    if (bits === undefined) return { ok: false, error: `"${input}" is not hex of at most ${opts.bits} bits (1-${MAX_FRAME_BITS})` };
  } else {
    bits = input.replace(/[\s_-]/g, '');
    if (!/^[01]+$/.test(bits)) return { ok: false, error: 'BITS must be a string of 0 and 1 (first bit on the wire first)' };
    if (opts.bits !== undefined && opts.bits !== bits.length) return { ok: false, error: `expected ${opts.bits} bits, got ${bits.length}` };
  }
  const base = { bits, bitCount: bits.length, hex: bitsToHex(bits) };
  if (bits.length === 4 || bits.length === 8) {
    const key = decodeKeyFrame(bits);
    return key.ok ? { ok: true, ...base, format: `keypad-${bits.length}`, key: key.key } : { ok: false, ...base, format: `keypad-${bits.length}`, error: key.detail };
  }
  const format = cardFormat(bits.length);
  if (!format) {
    const raw = decodeCardBits(bits, { allowRaw: true });
    return { ok: false, ...base, format: null, error: `no known format has ${bits.length} bits`, rawCredential: raw.ok ? raw.credential.value : null };
  }
  const parity = checkParity(format, bits);
  const parityOk = parity.every((p) => p.ok);
  const facility = parseInt(bits.slice(format.facility.start, format.facility.start + format.facility.length), 2);
  const card = parseInt(bits.slice(format.card.start, format.card.start + format.card.length), 2);
  return {
    ok: parityOk,
    ...base,
    format: format.name,
    description: format.description,
    [format.facilityLabel]: facility,
    card,
    parityOk,
    parity,
    ...(parityOk ? { credential: `${facility}:${card}` } : { error: `parity failed: ${parity.filter((p) => !p.ok).map((p) => `${p.name} (${p.kind}, bit ${p.position})`).join(', ')}` }),
  };
}

import type { Credential } from '../../gateway/core/types.js';

/**
 * Wiegand card formats: bit layouts, parity checks, encode and decode. Pure:
 * no I/O, no timers. Shared by the Wiegand driver and the OSDP driver (RAW
 * card data, osdp_RAW reply), and by `gatehouse decode wiegand`.
 *
 * Bit positions count from 0 = the first bit on the wire (the leading parity
 * bit). Layouts and parity masks follow HID's published format descriptions
 * (H10301 "26-bit", H10306 "34-bit", H10304 "37-bit", Corporate 1000 35/48)
 * and were cross-checked against the Proxmark3 client
 * (RfidResearchGroup/proxmark3 client/src/wiegand_formats.c: Pack_H10301,
 * Pack_H10306, Pack_H10304, Pack_C1k35s, Pack_C1k48s), whose masks are
 * translated here from its LSB-first words into wire positions.
 */

export interface FieldSpec {
  /** First bit of the field (0 = first bit on the wire). */
  start: number;
  length: number;
}

export interface ParitySpec {
  /** Short name used in diagnostics: `leading`, `trailing`, `overall`, ... */
  name: string;
  /** Where the parity bit sits. */
  position: number;
  /** Even: the covered bits plus the parity bit hold an even number of ones. */
  kind: 'even' | 'odd';
  /** Bits the parity bit covers (never includes `position` itself). */
  over: readonly number[];
}

export interface CardFormat {
  name: string;
  description: string;
  bits: number;
  /** Facility code (H-series) or company id (Corporate 1000). */
  facility: FieldSpec;
  /** What installers call the facility field for this format. */
  facilityLabel: 'facility' | 'company';
  card: FieldSpec;
  /** In encode order: a parity that covers another parity bit comes after it. */
  parity: readonly ParitySpec[];
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Positions in [from, to] whose remainder mod 3 is in `keep` (the Corporate 1000 interleaved parities). */
const mod3 = (from: number, to: number, keep: readonly number[]): number[] => range(from, to).filter((p) => keep.includes(p % 3));

/** The formats Gatehouse decodes, by name. Bit counts are distinct, so a frame's length picks its format. */
export const CARD_FORMATS: readonly CardFormat[] = [
  {
    // HID H10301: P | FC 8 | CN 16 | P. Leading even parity over bits 1-12, trailing odd over 13-24.
    name: 'H10301',
    description: 'HID Standard 26-bit (facility 0-255, card 0-65535)',
    bits: 26,
    facility: { start: 1, length: 8 },
    facilityLabel: 'facility',
    card: { start: 9, length: 16 },
    parity: [
      { name: 'leading', position: 0, kind: 'even', over: range(1, 12) },
      { name: 'trailing', position: 25, kind: 'odd', over: range(13, 24) },
    ],
  },
  {
    // HID H10306: P | FC 16 | CN 16 | P. Even over 1-16, odd over 17-32.
    name: 'H10306',
    description: 'HID 34-bit (facility 0-65535, card 0-65535)',
    bits: 34,
    facility: { start: 1, length: 16 },
    facilityLabel: 'facility',
    card: { start: 17, length: 16 },
    parity: [
      { name: 'leading', position: 0, kind: 'even', over: range(1, 16) },
      { name: 'trailing', position: 33, kind: 'odd', over: range(17, 32) },
    ],
  },
  {
    // HID Corporate 1000 35-bit: P0 | P1 | company 12 | card 20 | P34.
    // P1 even over bits 2..33 with p mod 3 != 1 (proxmark Bot mask 0xB6DB6DB6 + Mid bit 0);
    // P34 odd over bits 1..32 with p mod 3 != 0 (mask 0x6DB6DB6C + Mid bits 0-1; covers P1);
    // P0 odd over all other 34 bits (computed last).
    name: 'C1000-35',
    description: 'HID Corporate 1000 35-bit (company 0-4095, card 0-1048575)',
    bits: 35,
    facility: { start: 2, length: 12 },
    facilityLabel: 'company',
    card: { start: 14, length: 20 },
    parity: [
      { name: 'second', position: 1, kind: 'even', over: mod3(2, 33, [0, 2]) },
      { name: 'trailing', position: 34, kind: 'odd', over: mod3(1, 32, [1, 2]) },
      { name: 'overall', position: 0, kind: 'odd', over: range(1, 34) },
    ],
  },
  {
    // HID H10304: P | FC 16 | CN 19 | P. Even over 1-18, odd over 18-35 (bit 18 is in both halves).
    name: 'H10304',
    description: 'HID 37-bit with facility (facility 0-65535, card 0-524287)',
    bits: 37,
    facility: { start: 1, length: 16 },
    facilityLabel: 'facility',
    card: { start: 17, length: 19 },
    parity: [
      { name: 'leading', position: 0, kind: 'even', over: range(1, 18) },
      { name: 'trailing', position: 36, kind: 'odd', over: range(18, 35) },
    ],
  },
  {
    // HID Corporate 1000 48-bit: P0 | P1 | company 22 | card 23 | P47.
    // P1 even over bits 3..46 with p mod 3 != 2 (proxmark Mid mask 0x1B6D, Bot 0xB6DB6DB6);
    // P47 odd over bits 2..45 with p mod 3 != 1 (Mid 0x36DB, Bot 0x6DB6DB6C);
    // P0 odd over all other 47 bits (computed last).
    name: 'C1000-48',
    description: 'HID Corporate 1000 48-bit (company 0-4194303, card 0-8388607)',
    bits: 48,
    facility: { start: 2, length: 22 },
    facilityLabel: 'company',
    card: { start: 24, length: 23 },
    parity: [
      { name: 'second', position: 1, kind: 'even', over: mod3(3, 46, [0, 1]) },
      { name: 'trailing', position: 47, kind: 'odd', over: mod3(2, 45, [0, 2]) },
      { name: 'overall', position: 0, kind: 'odd', over: range(1, 47) },
    ],
  },
];

const BY_BITS = new Map(CARD_FORMATS.map((f) => [f.bits, f]));
const BY_NAME = new Map(CARD_FORMATS.map((f) => [f.name.toLowerCase(), f]));

/** Longest frame accepted at all: nothing real is longer; a longer "frame" is noise or a stuck line. */
export const MAX_FRAME_BITS = 256;

export function cardFormat(nameOrBits: string | number): CardFormat | undefined {
  return typeof nameOrBits === 'number' ? BY_BITS.get(nameOrBits) : BY_NAME.get(nameOrBits.toLowerCase());
}

export type CardDecodeResult =
  | { ok: true; format: string; bits: number; facility?: number; card: string; credential: Credential }
  | { ok: false; bits: number; reason: 'parity' | 'unknown_format' | 'invalid'; format?: string; detail: string };

export interface DecodeOptions {
  /**
   * Accept frames no known format matches as `raw:<bits>:<hex>` credentials
   * (device config `allowRaw`). A frame whose length matches a format but whose
   * parity fails is rejected whatever this says.
   */
  allowRaw?: boolean;
  /** Restrict decoding to these format names (default: all of CARD_FORMATS). */
  formats?: readonly string[];
}

export interface ParityCheck {
  name: string;
  position: number;
  kind: 'even' | 'odd';
  ok: boolean;
}

function readField(bits: string, field: FieldSpec): number {
  // Fields are at most 23 bits, well inside a double's exact integer range.
  return parseInt(bits.slice(field.start, field.start + field.length), 2);
}

function onesAt(bits: string, positions: readonly number[]): number {
  let n = 0;
  for (const p of positions) if (bits.charCodeAt(p) === 49) n++;
  return n;
}

/** Checks every parity bit of `format` over a frame of the right length. */
export function checkParity(format: CardFormat, bits: string): ParityCheck[] {
  return format.parity.map((p) => {
    const ones = onesAt(bits, p.over) + (bits[p.position] === '1' ? 1 : 0);
    return { name: p.name, position: p.position, kind: p.kind, ok: p.kind === 'even' ? ones % 2 === 0 : ones % 2 === 1 };
  });
}

/** Hex of a bit string read as a big-endian number, ceil(bits/4) digits (leading zeros kept). */
export function bitsToHex(bits: string): string {
  if (bits.length === 0) return '';
  return BigInt('0b' + bits)
    .toString(16)
    .padStart(Math.ceil(bits.length / 4), '0');
}

/** The low `bitCount` bits of a hex string, as a bit string (for `--hex HEX --bits N`). */
export function hexToBits(hex: string, bitCount: number): string | undefined {
  const clean = hex.replace(/^0x/i, '');
  if (!/^[0-9a-f]+$/i.test(clean) || !Number.isInteger(bitCount) || bitCount <= 0 || bitCount > MAX_FRAME_BITS) return undefined;
  const value = BigInt('0x' + clean);
  if (value >> BigInt(bitCount) !== 0n) return undefined;
  return value.toString(2).padStart(bitCount, '0');
}

/**
 * Decodes a card frame: `bits` is a string of '0'/'1', first bit on the wire first.
 * Never throws; a parity failure is never a credential.
 */
export function decodeCardBits(bits: string, options: DecodeOptions = {}): CardDecodeResult {
  const n = bits.length;
  if (n === 0 || n > MAX_FRAME_BITS || !/^[01]+$/.test(bits)) {
    return { ok: false, bits: n, reason: 'invalid', detail: n === 0 ? 'empty frame' : n > MAX_FRAME_BITS ? `frame longer than ${MAX_FRAME_BITS} bits` : 'frame contains characters other than 0 and 1' };
  }
  let format = BY_BITS.get(n);
  if (format && options.formats && !options.formats.some((f) => f.toLowerCase() === format!.name.toLowerCase())) format = undefined;
  if (!format) {
    if (options.allowRaw) {
      const hex = bitsToHex(bits);
      return { ok: true, format: 'raw', bits: n, card: hex, credential: { kind: 'card', value: `raw:${n}:${hex}`, format: 'raw' } };
    }
    return { ok: false, bits: n, reason: 'unknown_format', detail: `no configured format has ${n} bits` };
  }
  const failed = checkParity(format, bits).filter((c) => !c.ok);
  if (failed.length > 0) {
    return {
      ok: false,
      bits: n,
      reason: 'parity',
      format: format.name,
      detail: `${format.name} parity failed: ${failed.map((f) => `${f.name} (${f.kind}, bit ${f.position})`).join(', ')}`,
    };
  }
  const facility = readField(bits, format.facility);
  const card = String(readField(bits, format.card));
  return { ok: true, format: format.name, bits: n, facility, card, credential: { kind: 'card', value: `${facility}:${card}`, format: format.name } };
}

/**
 * Builds the frame a reader would send for `fields` in `format` (tests,
 * simulators, the venue demo). Throws RangeError when a field does not fit.
 */
export function encodeCard(format: string | CardFormat, fields: { facility: number; card: number }): string {
  const f = typeof format === 'string' ? cardFormat(format) : format;
  if (!f) throw new RangeError(`unknown card format "${String(format)}"`);
  const put = (out: string[], spec: FieldSpec, value: number, label: string) => {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** spec.length) throw new RangeError(`${f.name}: ${label} ${value} does not fit in ${spec.length} bits`);
    const text = value.toString(2).padStart(spec.length, '0');
    for (let i = 0; i < spec.length; i++) out[spec.start + i] = text[i]!;
  };
  const out: string[] = new Array<string>(f.bits).fill('0');
  put(out, f.facility, fields.facility, f.facilityLabel);
  put(out, f.card, fields.card, 'card');
  for (const p of f.parity) {
    const ones = onesAt(out.join(''), p.over);
    const even = ones % 2 === 0;
    out[p.position] = p.kind === 'even' ? (even ? '0' : '1') : even ? '1' : '0';
  }
  return out.join('');
}

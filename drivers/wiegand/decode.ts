import { decodeCardBits, type CardDecodeResult, type DecodeOptions } from './formats.js';
import { decodeKeyFrame } from './keypad.js';

/** Frames shorter than this that are not key presses are truncated cards or noise, never raw credentials. */
export const MIN_CARD_BITS = 24;

export type FrameClass =
  | { kind: 'key'; key: string }
  | { kind: 'card'; result: Extract<CardDecodeResult, { ok: true }> }
  | { kind: 'reject'; code: 'GH_WIEGAND_PARITY' | 'GH_WIEGAND_FORMAT' | 'GH_WIEGAND_NOISE'; reason: string; detail: string; format?: string };

/** Sorts an assembled frame into a key press, a card, or a counted rejection. Pure. */
export function classifyFrame(bits: string, options: DecodeOptions & { keypad: boolean }): FrameClass {
  if (options.keypad && (bits.length === 4 || bits.length === 8)) {
    const k = decodeKeyFrame(bits);
    return k.ok ? { kind: 'key', key: k.key } : { kind: 'reject', code: 'GH_WIEGAND_PARITY', reason: 'key_check', detail: k.detail, format: `keypad-${bits.length}` };
  }
  if (bits.length < MIN_CARD_BITS) {
    return { kind: 'reject', code: 'GH_WIEGAND_NOISE', reason: 'short', detail: `${bits.length}-bit frame is too short for a card (truncated frame or noise)` };
  }
  const result = decodeCardBits(bits, options);
  if (result.ok) return { kind: 'card', result };
  const code = result.reason === 'parity' ? 'GH_WIEGAND_PARITY' : result.reason === 'unknown_format' ? 'GH_WIEGAND_FORMAT' : 'GH_WIEGAND_NOISE';
  return { kind: 'reject', code, reason: result.reason, detail: result.detail, ...(result.format ? { format: result.format } : {}) };
}

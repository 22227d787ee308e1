/**
 * Wiegand keypads send one short frame per key press: 4 bits = the key code,
 * or the "8-bit burst" = the complement of the key code followed by the key
 * code (a cheap check against a lost bit; the common Arduino Wiegand readers
 * check it the same way). Codes 0-9 are digits, 10 is '*', 11 is '#'.
 */
export type KeyDecodeResult = { ok: true; key: string } | { ok: false; detail: string };

const KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

export function decodeKeyFrame(bits: string): KeyDecodeResult {
  if (bits.length === 4) {
    const code = parseInt(bits, 2);
    const key = KEYS[code];
    return key === undefined ? { ok: false, detail: `4-bit key code ${code} is not a key` } : { ok: true, key };
  }
  if (bits.length === 8) {
    const high = parseInt(bits.slice(0, 4), 2);
    const code = parseInt(bits.slice(4), 2);
    if ((high ^ 0xf) !== code) return { ok: false, detail: `8-bit key frame ${bits}: first nibble is not the complement of the second` };
    const key = KEYS[code];
    return key === undefined ? { ok: false, detail: `8-bit key code ${code} is not a key` } : { ok: true, key };
  }
  return { ok: false, detail: `a key frame has 4 or 8 bits, not ${bits.length}` };
}

/** The frame a keypad sends for `key` (tests and simulators). */
export function encodeKey(key: string, bits: 4 | 8): string {
  const code = KEYS.indexOf(key);
  if (code < 0) throw new RangeError(`"${key}" is not a keypad key`);
  const low = code.toString(2).padStart(4, '0');
  return bits === 4 ? low : (code ^ 0xf).toString(2).padStart(4, '0') + low;
}

export type PinEvent = { pin: string } | { discarded: 'timeout' | 'too_long'; length: number } | undefined;

/**
 * Assembles key presses into a PIN: digits accumulate, '*' clears, '#'
 * submits. Keys further apart than `timeoutMs` start over (the previous
 * digits are discarded and reported), as does a PIN longer than `maxLength`.
 */
export class PinEntry {
  private digits = '';
  private lastAt = 0;

  constructor(private readonly options: { maxLength: number; timeoutMs: number }) {}

  key(key: string, monoAt: number): PinEvent {
    let event: PinEvent;
    if (this.digits.length > 0 && monoAt - this.lastAt > this.options.timeoutMs) {
      event = { discarded: 'timeout', length: this.digits.length };
      this.digits = '';
    }
    this.lastAt = monoAt;
    if (key === '*') {
      this.digits = '';
      return event;
    }
    if (key === '#') {
      const pin = this.digits;
      this.digits = '';
      return pin.length > 0 ? { pin } : event;
    }
    if (this.digits.length >= this.options.maxLength) {
      const length = this.digits.length + 1;
      this.digits = '';
      return { discarded: 'too_long', length };
    }
    this.digits += key;
    return event;
  }

  get pending(): number {
    return this.digits.length;
  }

  reset(): void {
    this.digits = '';
  }
}

/**
 * Keyboard-wedge readers present themselves as a USB boot keyboard and "type"
 * the credential followed by Enter. A boot keyboard input report is 8 bytes
 * (USB HID 1.11, Appendix B.1): modifier bits, a reserved byte, then up to six
 * usages of keys held down (HID Usage Tables, Keyboard/Keypad page 0x07).
 * Pure: no I/O, no timers.
 */

/** Left/right Shift in the modifier byte. */
const SHIFT = 0x02 | 0x20;

/** The character a usage types, for the usages a card or barcode reader sends. */
export function usageChar(usage: number, shift: boolean): string | undefined {
  if (usage >= 0x04 && usage <= 0x1d) {
    const c = String.fromCharCode(0x61 + usage - 0x04);
    return shift ? c.toUpperCase() : c;
  }
  if (usage >= 0x1e && usage <= 0x26) return String(usage - 0x1d); // '1'..'9'
  if (usage === 0x27) return '0';
  if (usage >= 0x59 && usage <= 0x61) return String(usage - 0x58); // keypad '1'..'9'
  if (usage === 0x62) return '0'; // keypad '0'
  return undefined;
}

/** Enter (0x28) and Keypad Enter (0x58) end a credential. */
export const isEnter = (usage: number) => usage === 0x28 || usage === 0x58;

export type BootReport = { ok: true; modifiers: number; usages: number[] } | { ok: false; detail: string };

/** Parses one boot keyboard report. 0x01-0x03 (ErrorRollOver, POSTFail, ErrorUndefined) mean the report is not usable. */
export function parseBootReport(report: Uint8Array): BootReport {
  if (report.length !== 8) return { ok: false, detail: `report has ${report.length} bytes, a boot keyboard report has 8` };
  const usages: number[] = [];
  for (let i = 2; i < 8; i++) {
    const u = report[i]!;
    if (u === 0) continue;
    if (u <= 0x03) return { ok: false, detail: `report carries error usage 0x${u.toString(16).padStart(2, '0')} (rollover or keyboard error)` };
    usages.push(u);
  }
  return { ok: true, modifiers: report[0]!, usages };
}

export type WedgeEvent =
  | { kind: 'credential'; value: string }
  | { kind: 'bad_report'; detail: string }
  | { kind: 'discarded'; reason: 'timeout' | 'too_long' | 'spoiled'; length: number };

/**
 * Turns a reader's reports into credentials: a key counts when its usage
 * first appears (keys still held in the next report are not typed twice),
 * Enter submits. A report with an unexpected usage spoils the credential in
 * progress (it is dropped at the next Enter), so garbage never becomes a credential.
 */
export class WedgeDecoder {
  private held = new Set<number>();
  private text = '';
  private spoiled = false;
  private lastKeyAt = -Infinity;

  constructor(private readonly options: { interKeyTimeoutMs: number; maxLength: number }) {}

  report(report: Uint8Array, monoAt: number): WedgeEvent[] {
    const events: WedgeEvent[] = [];
    const parsed = parseBootReport(report);
    if (!parsed.ok) {
      this.spoil();
      this.held = new Set();
      return [{ kind: 'bad_report', detail: parsed.detail }];
    }
    const shift = (parsed.modifiers & SHIFT) !== 0;
    const pressed = parsed.usages.filter((u) => !this.held.has(u));
    this.held = new Set(parsed.usages);
    for (const usage of pressed) {
      if (monoAt - this.lastKeyAt > this.options.interKeyTimeoutMs && (this.text.length > 0 || this.spoiled)) {
        if (!this.spoiled) events.push({ kind: 'discarded', reason: 'timeout', length: this.text.length });
        this.reset();
      }
      this.lastKeyAt = monoAt;
      if (isEnter(usage)) {
        if (this.spoiled) events.push({ kind: 'discarded', reason: 'spoiled', length: this.text.length });
        else if (this.text.length > 0) events.push({ kind: 'credential', value: this.text });
        this.reset();
        continue;
      }
      const c = usageChar(usage, shift);
      if (c === undefined) {
        events.push({ kind: 'bad_report', detail: `unexpected usage 0x${usage.toString(16).padStart(2, '0')}` });
        this.spoil();
        continue;
      }
      if (this.spoiled) continue;
      if (this.text.length >= this.options.maxLength) {
        events.push({ kind: 'discarded', reason: 'too_long', length: this.text.length + 1 });
        this.text = '';
        this.spoiled = true;
        continue;
      }
      this.text += c;
    }
    return events;
  }

  private spoil(): void {
    this.spoiled = true;
  }

  reset(): void {
    this.text = '';
    this.spoiled = false;
  }
}

/** The press/release report pairs a wedge reader sends to type `text` then Enter (tests, simulators). */
export function typeReports(text: string, options: { enter?: boolean; keypad?: boolean } = {}): Buffer[] {
  const out: Buffer[] = [];
  const release = Buffer.alloc(8);
  for (const ch of text) {
    let usage: number;
    let mod = 0;
    if (ch >= '1' && ch <= '9') usage = (options.keypad ? 0x58 : 0x1d) + Number(ch);
    else if (ch === '0') usage = options.keypad ? 0x62 : 0x27;
    else if (/[a-z]/.test(ch)) usage = 0x04 + ch.charCodeAt(0) - 0x61;
    else if (/[A-Z]/.test(ch)) {
      usage = 0x04 + ch.charCodeAt(0) - 0x41;
      mod = 0x02;
    } else throw new RangeError(`a wedge reader does not type "${ch}"`);
    out.push(Buffer.from([mod, 0, usage, 0, 0, 0, 0, 0]), release);
  }
  if (options.enter !== false) out.push(Buffer.from([0, 0, 0x28, 0, 0, 0, 0, 0]), release);
  return out;
}

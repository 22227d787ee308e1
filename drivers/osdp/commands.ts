/**
 * OSDP commands (CP -> PD): codes, encoders used by the control panel and
 * decoders used by the simulator and the technician tool (OSDP 2.2 §6).
 */

export const CMD = {
  POLL: 0x60,
  ID: 0x61,
  CAP: 0x62,
  LSTAT: 0x64,
  ISTAT: 0x65,
  OSTAT: 0x66,
  RSTAT: 0x67,
  OUT: 0x68,
  LED: 0x69,
  BUZ: 0x6a,
  TEXT: 0x6b,
  COMSET: 0x6e,
  KEYSET: 0x75,
  CHLNG: 0x76,
  SCRYPT: 0x77,
} as const;

const NAMES = new Map<number, string>(Object.entries(CMD).map(([name, code]) => [code, name]));

export function commandName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_0x${code.toString(16).padStart(2, '0')}`;
}

/** LED colours (OSDP 2.2 §6.10). */
export const LED_COLOR = { black: 0, red: 1, green: 2, amber: 3, blue: 4, magenta: 5, cyan: 6, white: 7 } as const;
export type LedColor = keyof typeof LED_COLOR;
const COLOR_NAMES = Object.keys(LED_COLOR) as LedColor[];
export function ledColorName(n: number): string {
  return COLOR_NAMES[n] ?? `color_${n}`;
}

/** A temporary LED action: `onMs`/`offMs` flash pattern for `durationMs`, then back to the permanent state. */
export interface LedCommand {
  reader: number;
  led: number;
  color: LedColor;
  /** Flash pattern; offMs 0 = steady. Rounded to 100 ms units. */
  onMs: number;
  offMs: number;
  offColor: LedColor;
  durationMs: number;
}

export interface BuzzerCommand {
  reader: number;
  /** 0 = no tone, 1 = off, 2 = default tone. */
  tone: number;
  onMs: number;
  offMs: number;
  count: number;
}

export interface OutputCommand {
  output: number;
  /** OSDP 2.2 §6.9 control code: 1 perm off, 2 perm on, 5 temporary on (pulse) then resume, ... */
  control: number;
  timerMs: number;
}

export interface TextCommand {
  reader: number;
  /** 1 permanent no wrap, 2 permanent wrap, 3 temporary no wrap, 4 temporary wrap. */
  mode: number;
  seconds: number;
  row: number;
  column: number;
  text: string;
}

const units100 = (ms: number) => Math.max(0, Math.min(255, Math.round(ms / 100)));

export function encodeLed(c: LedCommand): Buffer {
  const timer = Math.max(0, Math.min(0xffff, Math.round(c.durationMs / 100)));
  // One 14-byte record: temporary part (control 2 = set) then permanent part left as is (control 0 = NOP).
  return Buffer.from([c.reader, c.led, 2, Math.max(1, units100(c.onMs)), units100(c.offMs), LED_COLOR[c.color], LED_COLOR[c.offColor], timer & 0xff, timer >> 8, 0, 0, 0, 0, 0]);
}

export function encodeBuzzer(c: BuzzerCommand): Buffer {
  return Buffer.from([c.reader, c.tone, units100(c.onMs), units100(c.offMs), c.count & 0xff]);
}

export function encodeOutput(c: OutputCommand): Buffer {
  const timer = Math.max(0, Math.min(0xffff, Math.round(c.timerMs / 100)));
  return Buffer.from([c.output, c.control, timer & 0xff, timer >> 8]);
}

export function encodeText(c: TextCommand): Buffer {
  const text = Buffer.from(c.text.replace(/[^\x20-\x7e]/g, '?').slice(0, 32), 'ascii');
  return Buffer.concat([Buffer.from([c.reader, c.mode, c.seconds & 0xff, c.row, c.column, text.length]), text]);
}

export function encodeComset(address: number, baudRate: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = address;
  b.writeUInt32LE(baudRate, 1);
  return b;
}

/** KEYSET: key type 1 = SCBK, length, key (OSDP 2.2 §6.16). */
export function encodeKeyset(key: Buffer): Buffer {
  return Buffer.concat([Buffer.from([1, key.length]), key]);
}

/** A command as the simulator and the technician tool see it. */
export type DecodedCommand =
  | { name: 'POLL' | 'LSTAT' | 'ISTAT' | 'OSTAT' | 'RSTAT' }
  | { name: 'ID' | 'CAP'; replyType: number }
  | { name: 'LED'; records: Array<{ reader: number; led: number; tempControl: number; onMs: number; offMs: number; color: string; offColor: string; durationMs: number; permControl: number; permColor: string }> }
  | { name: 'BUZ'; reader: number; tone: number; onMs: number; offMs: number; count: number }
  | { name: 'OUT'; records: Array<{ output: number; control: number; timerMs: number }> }
  | { name: 'TEXT'; reader: number; mode: number; seconds: number; row: number; column: number; text: string }
  | { name: 'COMSET'; address: number; baudRate: number }
  | { name: 'KEYSET'; keyType: number; keyLength: number }
  | { name: 'CHLNG'; rndA: string }
  | { name: 'SCRYPT'; serverCryptogram: string }
  | { name: string; unknown: true; dataHex: string }
  | { name: string; error: string; dataHex: string };

/** Decodes command data (plain text). Never throws: a malformed body names what is wrong. */
export function decodeCommand(code: number, data: Buffer): DecodedCommand {
  const name = commandName(code);
  const bad = (error: string): DecodedCommand => ({ name, error, dataHex: data.toString('hex') });
  switch (code) {
    case CMD.POLL:
    case CMD.LSTAT:
    case CMD.ISTAT:
    case CMD.OSTAT:
    case CMD.RSTAT:
      return data.length === 0 ? { name: name as 'POLL' } : bad(`${name} takes no data, got ${data.length} byte(s)`);
    case CMD.ID:
    case CMD.CAP:
      return data.length === 1 ? { name: name as 'ID', replyType: data[0]! } : bad(`${name} takes 1 byte, got ${data.length}`);
    case CMD.LED: {
      if (data.length === 0 || data.length % 14 !== 0) return bad(`LED data is ${data.length} bytes, not a multiple of 14`);
      const records = [];
      for (let p = 0; p < data.length; p += 14) {
        const r = data.subarray(p, p + 14);
        records.push({
          reader: r[0]!,
          led: r[1]!,
          tempControl: r[2]!,
          onMs: r[3]! * 100,
          offMs: r[4]! * 100,
          color: ledColorName(r[5]!),
          offColor: ledColorName(r[6]!),
          durationMs: r.readUInt16LE(7) * 100,
          permControl: r[9]!,
          permColor: ledColorName(r[12]!),
        });
      }
      return { name: 'LED', records };
    }
    case CMD.BUZ:
      if (data.length !== 5) return bad(`BUZ takes 5 bytes, got ${data.length}`);
      return { name: 'BUZ', reader: data[0]!, tone: data[1]!, onMs: data[2]! * 100, offMs: data[3]! * 100, count: data[4]! };
    case CMD.OUT: {
      if (data.length === 0 || data.length % 4 !== 0) return bad(`OUT data is ${data.length} bytes, not a multiple of 4`);
      const records = [];
      for (let p = 0; p < data.length; p += 4) records.push({ output: data[p]!, control: data[p + 1]!, timerMs: data.readUInt16LE(p + 2) * 100 });
      return { name: 'OUT', records };
    }
    case CMD.TEXT: {
      if (data.length < 6 || data.length !== 6 + data[5]!) return bad(`TEXT length ${data.length} does not match its text length field`);
      return { name: 'TEXT', reader: data[0]!, mode: data[1]!, seconds: data[2]!, row: data[3]!, column: data[4]!, text: data.subarray(6).toString('latin1') };
    }
    case CMD.COMSET:
      return data.length === 5 ? { name: 'COMSET', address: data[0]!, baudRate: data.readUInt32LE(1) } : bad(`COMSET takes 5 bytes, got ${data.length}`);
    case CMD.KEYSET:
      // The key itself is never echoed (logs, technician output).
      return data.length >= 2 && data.length === 2 + data[1]! ? { name: 'KEYSET', keyType: data[0]!, keyLength: data[1]! } : bad(`KEYSET length ${data.length} does not match its key length field`);
    case CMD.CHLNG:
      return data.length === 8 ? { name: 'CHLNG', rndA: data.toString('hex') } : bad(`CHLNG takes 8 bytes, got ${data.length}`);
    case CMD.SCRYPT:
      return data.length === 16 ? { name: 'SCRYPT', serverCryptogram: data.toString('hex') } : bad(`SCRYPT takes 16 bytes, got ${data.length}`);
    default:
      return { name, unknown: true, dataHex: data.toString('hex') };
  }
}

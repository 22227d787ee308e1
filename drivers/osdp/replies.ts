/**
 * OSDP replies (PD -> CP): codes, one small decoder per reply type and the
 * encoders the simulator uses (OSDP 2.2 §7). Decoders never throw: a body
 * that does not match its reply type becomes `{ name, error }`.
 */

export const REPLY = {
  ACK: 0x40,
  NAK: 0x41,
  PDID: 0x45,
  PDCAP: 0x46,
  LSTATR: 0x48,
  ISTATR: 0x49,
  OSTATR: 0x4a,
  RSTATR: 0x4b,
  RAW: 0x50,
  FMT: 0x51,
  KEYPAD: 0x53,
  COM: 0x54,
  CCRYPT: 0x76,
  RMAC_I: 0x78,
  BUSY: 0x79,
} as const;

const NAMES = new Map<number, string>(Object.entries(REPLY).map(([name, code]) => [code, name]));

export function replyName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_0x${code.toString(16).padStart(2, '0')}`;
}

/** NAK error codes (OSDP 2.2 §7.3). */
export const NAK_REASON: Record<number, string> = {
  0: 'no_error',
  1: 'bad_checksum_or_crc',
  2: 'bad_command_length',
  3: 'unknown_command',
  4: 'sequence_error',
  5: 'security_block_unsupported',
  6: 'secure_channel_required',
  7: 'bio_type_unsupported',
  8: 'bio_format_unsupported',
  9: 'unable_to_process',
};

export type Reply =
  | { name: 'ACK' | 'BUSY' }
  | { name: 'NAK'; code: number; reason: string }
  | { name: 'PDID'; vendor: string; model: number; version: number; serial: number; firmware: string }
  | { name: 'PDCAP'; capabilities: Array<{ function: number; compliance: number; items: number }> }
  | { name: 'LSTATR'; tamper: boolean; powerFailure: boolean }
  | { name: 'ISTATR' | 'OSTATR' | 'RSTATR'; states: number[] }
  | { name: 'RAW'; reader: number; format: number; bitCount: number; bits: string }
  | { name: 'FMT'; reader: number; direction: number; text: string }
  | { name: 'KEYPAD'; reader: number; digits: string }
  | { name: 'COM'; address: number; baudRate: number }
  | { name: 'CCRYPT'; cuid: Buffer; rndB: Buffer; clientCryptogram: Buffer }
  | { name: 'RMAC_I'; rmac: Buffer }
  | { name: string; error: string }
  | { name: string; unknown: true };

type Decoder = (data: Buffer) => Reply;

const fixed =
  (name: string, length: number, build: (d: Buffer) => Reply): Decoder =>
  (d) =>
    d.length === length ? build(d) : { name, error: `${name} takes ${length} byte(s), got ${d.length}` };

/** Turns RAW card data bytes into a bit string, first bit on the wire first (MSB of the first byte). */
export function bytesToBits(bytes: Buffer, bitCount: number): string {
  let s = '';
  for (let i = 0; i < bitCount; i++) s += (bytes[i >> 3]! >> (7 - (i & 7))) & 1 ? '1' : '0';
  return s;
}

export function bitsToBytes(bits: string): Buffer {
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/** One small decoder per reply type (STYLE.md "One handler per message"). */
const DECODERS: Record<number, Decoder> = {
  [REPLY.ACK]: fixed('ACK', 0, () => ({ name: 'ACK' })),
  [REPLY.BUSY]: fixed('BUSY', 0, () => ({ name: 'BUSY' })),
  [REPLY.NAK]: (d) => (d.length >= 1 ? { name: 'NAK', code: d[0]!, reason: NAK_REASON[d[0]!] ?? `code_${d[0]!}` } : { name: 'NAK', error: 'NAK without an error code' }),
  // OSDP 2.2 §7.4: vendor OUI (3), model, version, serial (4, LSB first), firmware major/minor/build.
  [REPLY.PDID]: fixed('PDID', 12, (d) => ({
    name: 'PDID',
    vendor: d.subarray(0, 3).toString('hex'),
    model: d[3]!,
    version: d[4]!,
    serial: d.readUInt32LE(5),
    firmware: `${d[9]!}.${d[10]!}.${d[11]!}`,
  })),
  [REPLY.PDCAP]: (d) => {
    if (d.length % 3 !== 0) return { name: 'PDCAP', error: `PDCAP data is ${d.length} bytes, not a multiple of 3` };
    const capabilities = [];
    for (let p = 0; p < d.length; p += 3) capabilities.push({ function: d[p]!, compliance: d[p + 1]!, items: d[p + 2]! });
    return { name: 'PDCAP', capabilities };
  },
  [REPLY.LSTATR]: fixed('LSTATR', 2, (d) => ({ name: 'LSTATR', tamper: d[0] !== 0, powerFailure: d[1] !== 0 })),
  [REPLY.ISTATR]: (d) => ({ name: 'ISTATR', states: [...d] }),
  [REPLY.OSTATR]: (d) => ({ name: 'OSTATR', states: [...d] }),
  [REPLY.RSTATR]: (d) => ({ name: 'RSTATR', states: [...d] }),
  // OSDP 2.2 §7.10: reader, format (0 raw, 1 Wiegand), bit count LSB first, data MSB-first padded to bytes.
  [REPLY.RAW]: (d) => {
    if (d.length < 4) return { name: 'RAW', error: `RAW needs at least 4 bytes, got ${d.length}` };
    const bitCount = d.readUInt16LE(2);
    const need = Math.ceil(bitCount / 8);
    if (bitCount === 0 || d.length - 4 !== need) return { name: 'RAW', error: `RAW says ${bitCount} bits but carries ${d.length - 4} data byte(s)` };
    return { name: 'RAW', reader: d[0]!, format: d[1]!, bitCount, bits: bytesToBits(d.subarray(4), bitCount) };
  },
  [REPLY.FMT]: (d) => (d.length >= 3 && d.length === 3 + d[2]! ? { name: 'FMT', reader: d[0]!, direction: d[1]!, text: d.subarray(3).toString('latin1') } : { name: 'FMT', error: 'FMT length does not match its character count' }),
  [REPLY.KEYPAD]: (d) => (d.length >= 2 && d.length === 2 + d[1]! ? { name: 'KEYPAD', reader: d[0]!, digits: keypadText(d.subarray(2)) } : { name: 'KEYPAD', error: 'KEYPAD length does not match its digit count' }),
  [REPLY.COM]: fixed('COM', 5, (d) => ({ name: 'COM', address: d[0]!, baudRate: d.readUInt32LE(1) })),
  // Annex D: cUID (8), RND.B (8), client cryptogram (16).
  [REPLY.CCRYPT]: fixed('CCRYPT', 32, (d) => ({ name: 'CCRYPT', cuid: Buffer.from(d.subarray(0, 8)), rndB: Buffer.from(d.subarray(8, 16)), clientCryptogram: Buffer.from(d.subarray(16, 32)) })),
  [REPLY.RMAC_I]: fixed('RMAC_I', 16, (d) => ({ name: 'RMAC_I', rmac: Buffer.from(d) })),
};

/** Keypad bytes are ASCII digits, with 0x7F for '*' and 0x0D for '#' (OSDP 2.2 §7.12). */
function keypadText(b: Buffer): string {
  let s = '';
  for (const c of b) s += c === 0x7f ? '*' : c === 0x0d ? '#' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  return s;
}

export function decodeReply(code: number, data: Buffer): Reply {
  const decoder = DECODERS[code];
  return decoder ? decoder(data) : { name: replyName(code), unknown: true };
}

export function isReplyError(r: Reply): r is { name: string; error: string } {
  return 'error' in r;
}

// --- encoders (the simulator's side) ---

export function encodeNak(code: number): Buffer {
  return Buffer.from([code]);
}

export function encodePdid(p: { vendor: number; model: number; version: number; serial: number; firmware: [number, number, number] }): Buffer {
  const b = Buffer.alloc(12);
  b[0] = p.vendor & 0xff;
  b[1] = (p.vendor >> 8) & 0xff;
  b[2] = (p.vendor >> 16) & 0xff;
  b[3] = p.model;
  b[4] = p.version;
  b.writeUInt32LE(p.serial >>> 0, 5);
  b[9] = p.firmware[0];
  b[10] = p.firmware[1];
  b[11] = p.firmware[2];
  return b;
}

export function encodePdcap(caps: Array<[number, number, number]>): Buffer {
  return Buffer.from(caps.flat());
}

export function encodeRaw(reader: number, bits: string, format = 0): Buffer {
  const head = Buffer.alloc(4);
  head[0] = reader;
  head[1] = format;
  head.writeUInt16LE(bits.length, 2);
  return Buffer.concat([head, bitsToBytes(bits)]);
}

export function encodeKeypad(reader: number, digits: string): Buffer {
  const bytes = [...digits].map((c) => (c === '*' ? 0x7f : c === '#' ? 0x0d : c.charCodeAt(0)));
  return Buffer.from([reader, bytes.length, ...bytes]);
}

export function encodeLstatr(tamper: boolean, powerFailure: boolean): Buffer {
  return Buffer.from([tamper ? 1 : 0, powerFailure ? 1 : 0]);
}

export function encodeCom(address: number, baudRate: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = address;
  b.writeUInt32LE(baudRate, 1);
  return b;
}

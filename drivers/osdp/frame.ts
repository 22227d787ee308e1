/**
 * OSDP framing (SIA OSDP 2.2 §5): pure functions over Buffers, no I/O, no timers.
 *
 *   [0xFF mark] SOM(0x53) ADDR LEN_LSB LEN_MSB CTRL [SCB_LEN SCB_TYPE SCB_DATA..] CODE DATA.. [MAC x4] CRC_LSB CRC_MSB | CKSUM
 *
 * LEN counts every byte from SOM to the last CRC/checksum byte (the optional
 * leading 0xFF mark is not part of the packet).
 */

export const SOM = 0x53;
export const MARK = 0xff;
export const BROADCAST = 0x7f;
export const REPLY_BIT = 0x80;
/** CTRL bits (OSDP 2.2 §5.6). */
export const CTRL_SQN = 0x03;
export const CTRL_CRC = 0x04;
export const CTRL_SCB = 0x08;
/** Largest packet we accept; longer length fields are treated as corruption (no reader we drive sends more). */
export const DEFAULT_MAX_FRAME = 1024;
/** Security block types that carry a 4-byte MAC before the CRC (OSDP 2.2 Annex D). */
export const MAC_SCB_TYPES: ReadonlySet<number> = new Set([0x15, 0x16, 0x17, 0x18]);

export interface SecurityBlock {
  type: number;
  data: Buffer;
}

export interface OsdpFrame {
  /** PD address 0..0x7F, reply bit removed. */
  address: number;
  /** True when the reply bit (0x80) was set: PD -> CP. */
  reply: boolean;
  sequence: number;
  /** True for CRC-16, false for the 1-byte checksum. */
  useCrc: boolean;
  scb?: SecurityBlock;
  /** Command or reply code. */
  code: number;
  /** Command/reply data as on the wire (still encrypted under SCS_17/18). */
  data: Buffer;
  /** 4-byte MAC when the security block type carries one. */
  mac?: Buffer;
  /** The whole packet from SOM to the CRC/checksum. */
  raw: Buffer;
}

export interface FrameInput {
  address: number;
  reply?: boolean;
  sequence: number;
  useCrc?: boolean;
  scb?: SecurityBlock;
  code: number;
  data?: Buffer;
  /** Computes the 4-byte MAC over the packet so far (SOM..data); only with a MAC-carrying SCB. */
  mac?: (covered: Buffer) => Buffer;
}

export type FrameErrorCode = 'GH_OSDP_BAD_CRC' | 'GH_OSDP_BAD_FRAME' | 'GH_OSDP_OVERSIZE';

export interface FrameError {
  code: FrameErrorCode;
  /** Stable short reason, e.g. `garbage`, `crc`, `checksum`, `length_too_small`. */
  reason: string;
  detail: string;
  /** Offset in the buffer handed to decodeFrames. */
  offset: number;
  bytes: Buffer;
}

export interface DecodeResult {
  frames: OsdpFrame[];
  /** Bytes kept for the next call (a frame that has not fully arrived). */
  rest: Buffer;
  errors: FrameError[];
}

/** CRC-16 with poly 0x1021 one byte at a time: entry i is the CRC register's update for top byte i. */
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** CRC-16/AUG-CCITT: poly 0x1021, init 0x1D0F, no reflection (OSDP 2.2 Annex A). Check("123456789") = 0xE5CC. */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0x1d0f;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ CRC_TABLE[((crc >> 8) ^ buf[i]!) & 0xff]!;
  return crc;
}

/** The 8-bit checksum: two's complement of the byte sum (OSDP 2.2 §5.8). */
export function checksum8(buf: Uint8Array, start = 0, end = buf.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += buf[i]!;
  return -sum & 0xff;
}

/** Builds one packet. The caller supplies the MAC function when the SCB type carries a MAC. */
export function encodeFrame(input: FrameInput): Buffer {
  const useCrc = input.useCrc ?? true;
  const data = input.data ?? Buffer.alloc(0);
  const scbLen = input.scb ? 2 + input.scb.data.length : 0;
  const hasMac = input.scb !== undefined && MAC_SCB_TYPES.has(input.scb.type);
  const length = 5 + scbLen + 1 + data.length + (hasMac ? 4 : 0) + (useCrc ? 2 : 1);
  const out = Buffer.alloc(length);
  out[0] = SOM;
  out[1] = (input.address & 0x7f) | (input.reply ? REPLY_BIT : 0);
  out.writeUInt16LE(length, 2);
  out[4] = (input.sequence & CTRL_SQN) | (useCrc ? CTRL_CRC : 0) | (input.scb ? CTRL_SCB : 0);
  let p = 5;
  if (input.scb) {
    out[p++] = scbLen;
    out[p++] = input.scb.type;
    input.scb.data.copy(out, p);
    p += input.scb.data.length;
  }
  out[p++] = input.code;
  data.copy(out, p);
  p += data.length;
  if (hasMac) {
    if (!input.mac) throw new Error(`security block 0x${input.scb!.type.toString(16)} needs a MAC function`);
    input.mac(out.subarray(0, p)).copy(out, p, 0, 4);
    p += 4;
  }
  if (useCrc) out.writeUInt16LE(crc16(out, 0, p), p);
  else out[p] = checksum8(out, 0, p);
  return out;
}

/**
 * The declared length of a frame that starts `buf` (after any 0xFF marks), when its header has arrived.
 * The session uses it to wait for the wire time of a long reply that is still arriving.
 */
export function pendingFrameLength(buf: Buffer): number | undefined {
  let i = 0;
  while (i < buf.length && buf[i] === MARK) i++;
  if (buf[i] !== SOM || buf.length - i < 4) return undefined;
  return buf.readUInt16LE(i + 2);
}

/**
 * Finds every frame in `buf`. Never throws: garbage, bad lengths and bad
 * CRCs become `errors` and decoding resumes at the next SOM byte, so one
 * corrupt frame never hides the good one after it. A frame that has not fully
 * arrived is returned in `rest` for the next call.
 */
export function decodeFrames(buf: Buffer, options: { maxFrame?: number } = {}): DecodeResult {
  const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
  const frames: OsdpFrame[] = [];
  const errors: FrameError[] = [];
  let i = 0;
  let garbageStart = -1;
  // Bytes of a frame already reported (bad CRC) are not reported again as garbage.
  let quietUntil = 0;
  const flushGarbage = (end: number) => {
    if (garbageStart < 0) return;
    errors.push({ code: 'GH_OSDP_BAD_FRAME', reason: 'garbage', detail: `${end - garbageStart} byte(s) outside any frame`, offset: garbageStart, bytes: Buffer.from(buf.subarray(garbageStart, end)) });
    garbageStart = -1;
  };
  while (i < buf.length) {
    const b = buf[i]!;
    if (b !== SOM) {
      // 0xFF marks before SOM are legal line-idle bytes (OSDP 2.2 §5.1).
      if (b !== MARK && garbageStart < 0 && i >= quietUntil) garbageStart = i;
      i++;
      continue;
    }
    if (buf.length - i < 5) break;
    const length = buf.readUInt16LE(i + 2);
    const ctrl = buf[i + 4]!;
    const useCrc = (ctrl & CTRL_CRC) !== 0;
    const minLength = 5 + 1 + (useCrc ? 2 : 1);
    if (length < minLength || length > maxFrame) {
      flushGarbage(i);
      const oversize = length > maxFrame;
      errors.push({
        code: oversize ? 'GH_OSDP_OVERSIZE' : 'GH_OSDP_BAD_FRAME',
        reason: oversize ? 'length_too_large' : 'length_too_small',
        detail: oversize ? `length field ${length} exceeds the ${maxFrame}-byte limit` : `length field ${length} is below the ${minLength}-byte minimum`,
        offset: i,
        bytes: Buffer.from(buf.subarray(i, i + 5)),
      });
      i++;
      continue;
    }
    if (buf.length - i < length) break;
    const raw = buf.subarray(i, i + length);
    const bodyEnd = length - (useCrc ? 2 : 1);
    const ok = useCrc ? crc16(raw, 0, bodyEnd) === raw.readUInt16LE(bodyEnd) : checksum8(raw, 0, bodyEnd) === raw[bodyEnd];
    if (!ok) {
      flushGarbage(i);
      errors.push({ code: 'GH_OSDP_BAD_CRC', reason: useCrc ? 'crc' : 'checksum', detail: `${useCrc ? 'CRC-16' : 'checksum'} mismatch on a ${length}-byte frame`, offset: i, bytes: Buffer.from(raw) });
      // The length byte itself may be the corrupt one: resume right after this SOM.
      quietUntil = i + length;
      i++;
      continue;
    }
    const parsed = parseBody(Buffer.from(raw), useCrc);
    flushGarbage(i);
    if (typeof parsed === 'string') {
      errors.push({ code: 'GH_OSDP_BAD_FRAME', reason: 'bad_security_block', detail: parsed, offset: i, bytes: Buffer.from(raw) });
    } else {
      frames.push(parsed);
    }
    i += length;
  }
  flushGarbage(i);
  return { frames, rest: Buffer.from(buf.subarray(i)), errors };
}

function parseBody(raw: Buffer, useCrc: boolean): OsdpFrame | string {
  const ctrl = raw[4]!;
  const bodyEnd = raw.length - (useCrc ? 2 : 1);
  let p = 5;
  let scb: SecurityBlock | undefined;
  if (ctrl & CTRL_SCB) {
    const scbLen = raw[p]!;
    if (scbLen < 2 || p + scbLen >= bodyEnd) return `security block length ${scbLen} does not fit the frame`;
    scb = { type: raw[p + 1]!, data: raw.subarray(p + 2, p + scbLen) };
    p += scbLen;
  }
  const hasMac = scb !== undefined && MAC_SCB_TYPES.has(scb.type);
  const dataEnd = bodyEnd - (hasMac ? 4 : 0);
  if (p >= dataEnd) return 'no room for the command/reply code';
  const frame: OsdpFrame = {
    address: raw[1]! & 0x7f,
    reply: (raw[1]! & REPLY_BIT) !== 0,
    sequence: ctrl & CTRL_SQN,
    useCrc,
    code: raw[p]!,
    data: raw.subarray(p + 1, dataEnd),
    raw,
  };
  if (scb) frame.scb = scb;
  if (hasMac) frame.mac = raw.subarray(dataEnd, bodyEnd);
  return frame;
}

/** Bytes covered by the MAC of a frame that carries one: SOM up to the last data byte. */
export function macCoveredBytes(frame: OsdpFrame): Buffer {
  return frame.raw.subarray(0, frame.raw.length - (frame.useCrc ? 2 : 1) - 4);
}

import type { SerialFraming } from './config.js';

/**
 * Framing and decoding for simple serial card readers. Pure: bytes in,
 * frames / leftover / errors out (STYLE.md "Pure cores, thin shells"); the
 * driver keeps `rest` and feeds it back with the next chunk.
 */
export interface SerialFrame {
  /** The credential value as configured (`output`). */
  value: string;
  raw: Buffer;
}
export interface SerialFrameError {
  detail: string;
  raw: Buffer;
}
export interface SerialDecodeResult {
  frames: SerialFrame[];
  rest: Buffer;
  errors: SerialFrameError[];
}

const HEX = /^[0-9A-Fa-f]+$/;
const DIGITS = /^[0-9]+$/;

function checksumOf(bytes: Uint8Array, kind: 'xor' | 'sum'): number {
  let c = 0;
  for (const b of bytes) c = kind === 'xor' ? c ^ b : (c + b) & 0xff;
  return c;
}

/** Checks and decodes the bytes between the delimiters. */
export function decodePayload(inner: Buffer, framing: SerialFraming): { ok: true; value: string } | { ok: false; detail: string } {
  const ascii = framing.encoding !== 'binary';
  let payload = inner;
  if (ascii) {
    const text = inner.toString('latin1').trim();
    payload = Buffer.from(text, 'latin1');
  }
  // Checksum first: it is over what the reader sent, before any number conversion.
  let text = ascii ? payload.toString('latin1') : '';
  let bytes: Buffer | undefined;
  if (framing.encoding === 'ascii-hex') {
    if (!HEX.test(text)) return { ok: false, detail: text.length === 0 ? 'empty payload' : `payload "${text.slice(0, 40)}" is not hex` };
  } else if (framing.encoding === 'ascii-decimal') {
    if (framing.checksum === 'none' && !DIGITS.test(text)) return { ok: false, detail: text.length === 0 ? 'empty payload' : `payload "${text.slice(0, 40)}" is not decimal` };
  }
  if (framing.checksum !== 'none') {
    if (framing.encoding === 'ascii-hex') {
      if (text.length < 4 || text.length % 2 !== 0) return { ok: false, detail: `hex payload of ${text.length} digits cannot carry bytes and a checksum` };
      const all = Buffer.from(text, 'hex');
      const data = all.subarray(0, all.length - 1);
      const want = all[all.length - 1]!;
      const got = checksumOf(data, framing.checksum);
      if (got !== want) return { ok: false, detail: `${framing.checksum} checksum 0x${got.toString(16).padStart(2, '0')} does not match 0x${want.toString(16).padStart(2, '0')}` };
      bytes = data;
      text = text.slice(0, -2);
    } else {
      if (payload.length < 2) return { ok: false, detail: 'payload too short for a checksum' };
      const data = payload.subarray(0, payload.length - 1);
      const want = payload[payload.length - 1]!;
      const got = checksumOf(data, framing.checksum);
      if (got !== want) return { ok: false, detail: `${framing.checksum} checksum 0x${got.toString(16).padStart(2, '0')} does not match 0x${want.toString(16).padStart(2, '0')}` };
      payload = data;
      if (ascii) text = data.toString('latin1');
    }
  }
  if (framing.encoding === 'ascii-decimal') {
    if (!DIGITS.test(text)) return { ok: false, detail: text.length === 0 ? 'empty payload' : `payload "${text.slice(0, 40)}" is not decimal` };
    if (framing.output === 'text') return { ok: true, value: text };
    const n = BigInt(text);
    return { ok: true, value: framing.output === 'hex' ? n.toString(16).toUpperCase() : n.toString() };
  }
  if (framing.encoding === 'ascii-hex') bytes ??= Buffer.from(text.length % 2 === 0 ? text : '0' + text, 'hex');
  else bytes = payload;
  if (framing.output === 'text' && ascii && framing.dropBytes === 0 && framing.byteOrder === 'big') return { ok: true, value: text.toUpperCase() };
  if (bytes.length <= framing.dropBytes) return { ok: false, detail: `payload has ${bytes.length} byte(s), nothing left after dropping ${framing.dropBytes}` };
  let number = Buffer.from(bytes.subarray(framing.dropBytes));
  if (framing.byteOrder === 'little') number = number.reverse();
  const hex = number.toString('hex').toUpperCase();
  return { ok: true, value: framing.output === 'decimal' ? BigInt('0x' + hex).toString() : hex };
}

function lineSplit(buf: Buffer, ending: 'cr' | 'lf' | 'crlf' | 'any'): { lines: Buffer[]; rest: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    let end = -1;
    let next = -1;
    if (ending === 'crlf') {
      if (b === 0x0d && buf[i + 1] === 0x0a) {
        end = i;
        next = i + 2;
      }
    } else if ((ending === 'cr' && b === 0x0d) || (ending === 'lf' && b === 0x0a) || (ending === 'any' && (b === 0x0d || b === 0x0a))) {
      end = i;
      next = i + 1;
    }
    if (end < 0) continue;
    const line = buf.subarray(start, end);
    // With `any`, CRLF gives an empty line between CR and LF: not a frame.
    if (!(ending === 'any' && line.length === 0)) lines.push(line);
    start = next;
    i = next - 1;
  }
  return { lines, rest: buf.subarray(start) };
}

/** Splits `buf` into frames by the configured delimiter and decodes each. Never throws. */
export function decodeSerialFrames(buf: Buffer, framing: SerialFraming): SerialDecodeResult {
  const frames: SerialFrame[] = [];
  const errors: SerialFrameError[] = [];
  const take = (inner: Buffer, raw: Buffer) => {
    const r = decodePayload(inner, framing);
    if (r.ok) frames.push({ value: r.value, raw: Buffer.from(raw) });
    else errors.push({ detail: r.detail, raw: Buffer.from(raw) });
  };
  const d = framing.delimiter;
  const max = framing.maxFrameBytes;

  if (d.kind === 'fixed') {
    let pos = 0;
    while (buf.length - pos >= d.length) {
      const frame = buf.subarray(pos, pos + d.length);
      take(frame, frame);
      pos += d.length;
    }
    return { frames, rest: Buffer.from(buf.subarray(pos)), errors };
  }

  if (d.kind === 'line') {
    const { lines, rest } = lineSplit(buf, d.ending);
    for (const line of lines) {
      if (line.length > max) errors.push({ detail: `line of ${line.length} bytes is longer than ${max}`, raw: Buffer.from(line.subarray(0, 64)) });
      else take(line, line);
    }
    if (rest.length > max) {
      errors.push({ detail: `${rest.length} bytes without a line ending`, raw: Buffer.from(rest.subarray(0, 64)) });
      return { frames, rest: Buffer.alloc(0), errors };
    }
    return { frames, rest: Buffer.from(rest), errors };
  }

  // STX ... ETX. In ASCII encodings STX/ETX never occur inside a payload, so a
  // second STX means the first frame was cut short: resynchronise on it.
  const ascii = framing.encoding !== 'binary';
  let pos = 0;
  for (;;) {
    const stx = buf.indexOf(d.stx, pos);
    if (stx < 0) {
      if (pos < buf.length) errors.push({ detail: `${buf.length - pos} byte(s) outside a frame`, raw: Buffer.from(buf.subarray(pos, pos + 64)) });
      return { frames, rest: Buffer.alloc(0), errors };
    }
    if (stx > pos) errors.push({ detail: `${stx - pos} byte(s) outside a frame`, raw: Buffer.from(buf.subarray(pos, Math.min(stx, pos + 64))) });
    const etx = buf.indexOf(d.etx, stx + 1);
    const restart = ascii ? buf.indexOf(d.stx, stx + 1) : -1;
    if (restart >= 0 && (etx < 0 || restart < etx)) {
      errors.push({ detail: 'frame cut short by a new STX', raw: Buffer.from(buf.subarray(stx, restart)) });
      pos = restart;
      continue;
    }
    if (etx < 0) {
      if (buf.length - stx > max + 2) {
        errors.push({ detail: `no ETX within ${max} bytes`, raw: Buffer.from(buf.subarray(stx, stx + 64)) });
        return { frames, rest: Buffer.alloc(0), errors };
      }
      return { frames, rest: Buffer.from(buf.subarray(stx)), errors };
    }
    if (etx - stx - 1 > max) errors.push({ detail: `frame of ${etx - stx - 1} bytes is longer than ${max}`, raw: Buffer.from(buf.subarray(stx, stx + 64)) });
    else take(buf.subarray(stx + 1, etx), buf.subarray(stx, etx + 1));
    pos = etx + 1;
  }
}

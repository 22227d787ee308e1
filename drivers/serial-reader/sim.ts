import type { Transport } from '../serial/transport.js';
import type { SerialFraming } from './config.js';

/**
 * The bytes a reader sends for `payload`: hex digits for ascii-hex and binary
 * encodings (binary sends them as raw bytes), decimal digits for ascii-decimal.
 * The checksum and delimiters are added as `framing` says. For tests and simulators.
 */
export function encodeSerialFrame(payload: string, framing: SerialFraming): Buffer {
  let body: Buffer;
  if (framing.encoding === 'ascii-decimal') {
    body = Buffer.from(payload, 'latin1');
    if (framing.checksum !== 'none') body = Buffer.concat([body, Buffer.from([check(body, framing.checksum)])]);
  } else {
    const bytes = Buffer.from(payload, 'hex');
    const sum = framing.checksum === 'none' ? Buffer.alloc(0) : Buffer.from([check(bytes, framing.checksum)]);
    body = framing.encoding === 'binary' ? Buffer.concat([bytes, sum]) : Buffer.from(Buffer.concat([bytes, sum]).toString('hex').toUpperCase(), 'latin1');
  }
  const d = framing.delimiter;
  if (d.kind === 'stx-etx') return Buffer.concat([Buffer.from([d.stx]), body, Buffer.from([d.etx])]);
  if (d.kind === 'line') return Buffer.concat([body, Buffer.from(d.ending === 'cr' ? '\r' : d.ending === 'lf' ? '\n' : '\r\n', 'latin1')]);
  return body;
}

function check(bytes: Uint8Array, kind: 'xor' | 'sum'): number {
  let c = 0;
  for (const b of bytes) c = kind === 'xor' ? c ^ b : (c + b) & 0xff;
  return c;
}

/** A simulated reader on the device end of a serial link (a socat PTY in tests). */
export function simulatedSerialReader(transport: Transport, framing: SerialFraming) {
  return {
    /** Presents a card: writes its frame, optionally in chunks of `chunk` bytes (a slow UART). */
    async present(payload: string, chunk = 0): Promise<void> {
      const bytes = encodeSerialFrame(payload, framing);
      if (chunk <= 0) return transport.write(bytes);
      for (let i = 0; i < bytes.length; i += chunk) await transport.write(bytes.subarray(i, i + chunk));
    },
    /** Sends bytes as they are (line noise, a truncated frame). */
    garbage: (bytes: Buffer) => transport.write(bytes),
  };
}

import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** How a simple serial reader delimits, checks and encodes a card number (docs/readers.md, "Serial readers"). */
export const serialFramingSchema = z.strictObject({
  /**
   * `stx-etx`: STX payload [checksum] ETX (125 kHz modules such as RDM6300: 02 + 10 hex + 2 hex XOR + 03);
   * `line`: payload [checksum] then a line ending; `fixed`: exactly `length` bytes per frame.
   */
  delimiter: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('stx-etx'), stx: z.number().int().min(0).max(255).default(0x02), etx: z.number().int().min(0).max(255).default(0x03) }),
    z.strictObject({ kind: z.literal('line'), ending: z.enum(['cr', 'lf', 'crlf', 'any']).default('any') }),
    z.strictObject({ kind: z.literal('fixed'), length: z.number().int().min(1).max(256) }),
  ]),
  /** How the payload is written: ASCII hex digits, ASCII decimal digits, or raw bytes. */
  encoding: z.enum(['ascii-hex', 'ascii-decimal', 'binary']).default('ascii-hex'),
  /**
   * Checksum at the end of the payload: `xor` or `sum` (mod 256) of the payload bytes.
   * With ascii-hex it is two hex digits over the decoded bytes; otherwise one raw byte over the payload bytes.
   */
  checksum: z.enum(['none', 'xor', 'sum']).default('none'),
  /** Byte order of a hex or binary number: `little` reverses the bytes before reading it. */
  byteOrder: z.enum(['big', 'little']).default('big'),
  /** Leading payload bytes that are not part of the card number (e.g. RDM6300's version byte: 1). */
  dropBytes: z.number().int().min(0).max(32).default(0),
  /** How the credential value is written: decimal number, upper-case hex, or the payload text as sent. */
  output: z.enum(['decimal', 'hex', 'text']).default('decimal'),
  /** Longest frame accepted: anything longer is garbage and dropped. */
  maxFrameBytes: z.number().int().min(1).max(4096).default(64),
});
export type SerialFraming = z.infer<typeof serialFramingSchema>;

/** Config of one `serial-reader` device (an element of `devices:`). Owned by drivers/serial-reader. */
export const serialReaderDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('serial-reader'),
  /** Serial port, e.g. /dev/ttyUSB0 or a udev symlink such as /dev/serial/by-id/... */
  path: z.string().min(1),
  baudRate: z.number().int().positive().default(9600),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  framing: serialFramingSchema,
  /** What the reader reads: card numbers or barcode payloads. */
  kind: z.enum(['card', 'barcode']).default('card'),
  /** Bytes of an unfinished frame are dropped after this much silence (resynchronises fixed-length framing). */
  frameGapMs: z.number().int().min(5).max(10_000).default(200),
});
export type SerialReaderDeviceConfig = z.infer<typeof serialReaderDeviceSchema>;

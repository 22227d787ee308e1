import { CARD_FORMATS, decodeCardBits, encodeCard } from '../../drivers/wiegand/formats.js';
import { BitAssembler } from '../../drivers/wiegand/assembler.js';
import { pulseTrain } from '../../drivers/wiegand/sim.js';
import { WedgeDecoder, typeReports } from '../../drivers/hid/decode.js';
import { decodeSerialFrames } from '../../drivers/serial-reader/decode.js';
import { serialFramingSchema } from '../../drivers/serial-reader/config.js';
import { encodeSerialFrame } from '../../drivers/serial-reader/sim.js';

/**
 * Reader decode costs on the card-read path (issue #5): Wiegand format decode
 * per format, bit assembly from edges, HID report decoding and serial framing.
 * `gatehouse bench readers --json` prints the object returned here.
 * Options: `iterations` (default 200000).
 */
export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const iterations = Number(options.iterations ?? 200_000);
  const time = (n: number, fn: (i: number) => void) => {
    for (let i = 0; i < Math.min(n, 10_000); i++) fn(i); // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    const ns = Number(process.hrtime.bigint() - t0);
    return { opsPerSec: Math.round((n / ns) * 1e9), nsPerOp: Math.round(ns / n) };
  };

  const wiegandDecode: Record<string, unknown> = {};
  for (const f of CARD_FORMATS) {
    const frames = Array.from({ length: 64 }, (_, i) => encodeCard(f, { facility: (i * 37) % 2 ** f.facility.length, card: (i * 7919) % 2 ** f.card.length }));
    if (!frames.every((b) => decodeCardBits(b).ok)) throw new Error(`bench: ${f.name} frames failed to decode`);
    wiegandDecode[f.name] = time(iterations, (i) => void decodeCardBits(frames[i & 63]!));
  }
  const noise = Array.from({ length: 64 }, (_, i) => (i * 2654435761).toString(2).padStart(34, '0').slice(0, 26 + (i % 23)));
  const garbageDecode = time(iterations, (i) => void decodeCardBits(noise[i & 63]!));

  // Bit assembly: frames separated by stamped gaps, so no timer is involved.
  const bits = encodeCard('H10301', { facility: 123, card: 45678 });
  const train = pulseTrain(bits, { intervalMs: 2 });
  let assembled = 0;
  const asm = new BitAssembler({ frameTimeoutMs: 25, maxBits: 128, minBitIntervalMs: 0 }, () => assembled++);
  const frameCount = Math.max(1, Math.floor(iterations / 10));
  let base = 0;
  const assembly = time(frameCount, () => {
    base += 100;
    for (const p of train) asm.bit(p.line === 'd1' ? 1 : 0, base + p.atMs);
  });
  asm.stop();

  const reports = typeReports('0012345678');
  const hid = new WedgeDecoder({ interKeyTimeoutMs: 200, maxLength: 64 });
  let hidAt = 0;
  const hidCredentials = time(frameCount, () => {
    hidAt += 10;
    for (const r of reports) hid.report(r, hidAt);
  });

  const framing = serialFramingSchema.parse({ delimiter: { kind: 'stx-etx' }, encoding: 'ascii-hex', checksum: 'xor', dropBytes: 1 });
  const serialChunk = Buffer.concat(Array.from({ length: 16 }, () => encodeSerialFrame('0F00A6D2E5', framing)));
  const serial = time(frameCount, () => void decodeSerialFrames(serialChunk, framing));

  return {
    benchmark: 'readers',
    node: process.version,
    iterations,
    wiegandDecode,
    wiegandGarbageDecode: garbageDecode,
    wiegandAssemblyPerFrame26: { ...assembly, framesAssembled: assembled },
    hidDecodePerCredential10Digits: hidCredentials,
    serialDecodePer16FrameChunk: serial,
  };
}

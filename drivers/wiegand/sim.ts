import { encodeCard } from './formats.js';
import { encodeKey } from './keypad.js';

/** One Wiegand pulse: which line went low and when (ms from the start of the train). */
export interface Pulse {
  line: 'd0' | 'd1';
  atMs: number;
}

export interface TrainOptions {
  /** Time between pulses (SIA AC-01 allows 200 µs to 20 ms; most readers use ~1-2 ms). */
  intervalMs?: number;
  /** Each interval varies by up to ± this (scheduling jitter of a real reader's MCU). */
  jitterMs?: number;
  /** Random source in [0, 1) for the jitter (tests pass a seeded one). */
  random?: () => number;
  /** Time of the first pulse. */
  startMs?: number;
}

/** The pulses a reader sends for a frame (first bit first). */
export function pulseTrain(bits: string, options: TrainOptions = {}): Pulse[] {
  const interval = options.intervalMs ?? 2;
  const jitter = options.jitterMs ?? 0;
  const random = options.random ?? Math.random;
  let at = options.startMs ?? 0;
  const out: Pulse[] = [];
  for (let i = 0; i < bits.length; i++) {
    if (i > 0) at += Math.max(0.05, interval + (random() * 2 - 1) * jitter);
    out.push({ line: bits[i] === '1' ? 'd1' : 'd0', atMs: at });
  }
  return out;
}

/**
 * The socket protocol script for a pulse train: `+GAP d0|d1` lines (docs/readers.md).
 * The first pulse is stamped `gapBeforeMs` (default 100) after whatever the client
 * sent before, so scripts written back to back stay separate frames.
 */
export function socketScript(pulses: readonly Pulse[], options: { gapBeforeMs?: number } = {}): string {
  let prev: number | undefined;
  return pulses
    .map((p) => {
      const gap = prev === undefined ? (options.gapBeforeMs ?? 100) : p.atMs - prev;
      prev = p.atMs;
      return `+${gap.toFixed(3)} ${p.line}\n`;
    })
    .join('');
}

/** A card presented to a simulated reader: the frame for `format` and its pulses. */
export function cardPulses(format: string, fields: { facility: number; card: number }, options: TrainOptions = {}): Pulse[] {
  return pulseTrain(encodeCard(format, fields), options);
}

/** Key presses on a simulated keypad, `keyGapMs` apart (each key is its own frame). */
export function keypadPulses(keys: string, bits: 4 | 8, options: TrainOptions & { keyGapMs?: number } = {}): Pulse[] {
  const out: Pulse[] = [];
  let start = options.startMs ?? 0;
  for (const key of keys) {
    const train = pulseTrain(encodeKey(key, bits), { ...options, startMs: start });
    out.push(...train);
    start = train[train.length - 1]!.atMs + (options.keyGapMs ?? 300);
  }
  return out;
}

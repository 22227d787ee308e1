import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { BitAssembler, type AssembledFrame } from './assembler.js';
import { pulseTrain, type Pulse } from './sim.js';
import { encodeCard } from './formats.js';

/** A seeded PRNG so jittered trains are reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('BitAssembler', () => {
  let frames: AssembledFrame[];
  let asm: BitAssembler;
  const make = (opts: Partial<{ frameTimeoutMs: number; maxBits: number; minBitIntervalMs: number }> = {}) => {
    frames = [];
    asm = new BitAssembler({ frameTimeoutMs: 25, maxBits: 64, minBitIntervalMs: 0, ...opts }, (f) => frames.push(f));
  };
  /** Plays pulses in (fake) real time: runs the timers up to each pulse, then delivers it. */
  const play = (pulses: readonly Pulse[], t0 = Date.now()) => {
    for (const p of pulses) {
      const wait = t0 + p.atMs - Date.now();
      if (wait > 0) vi.advanceTimersByTime(wait);
      asm.bit(p.line === 'd1' ? 1 : 0, t0 + p.atMs);
    }
  };
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    make();
  });
  afterEach(() => {
    asm.stop();
    vi.useRealTimers();
  });

  it('ends a frame after the idle timeout, not before', () => {
    const bits = encodeCard('H10301', { facility: 5, card: 999 });
    play(pulseTrain(bits, { intervalMs: 2 }));
    vi.advanceTimersByTime(24);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(frames).toMatchObject([{ kind: 'frame', bits }]);
  });

  it('assembles frames from jittered pulse trains of slow readers (up to 20 ms between pulses)', () => {
    fc.assert(
      fc.property(fc.constantFrom('H10301', 'H10306', 'C1000-35', 'H10304', 'C1000-48'), fc.integer({ min: 1, max: 2 ** 31 }), fc.double({ min: 0.3, max: 20, noNaN: true }), (format, seed, interval) => {
        make();
        const r = lcg(seed);
        const bits = encodeCard(format, { facility: Math.floor(r() * 256), card: Math.floor(r() * 65536) });
        play(pulseTrain(bits, { intervalMs: interval, jitterMs: Math.min(interval / 2, 2), random: r }));
        vi.advanceTimersByTime(25);
        expect(frames).toMatchObject([{ kind: 'frame', bits }]);
      }),
      { numRuns: 50 },
    );
  });

  it('splits two frames delivered in one burst by their stamped gap', () => {
    const a = encodeCard('H10301', { facility: 1, card: 1 });
    const b = encodeCard('H10301', { facility: 2, card: 2 });
    const t0 = Date.now();
    // Delivered at once (a socket client sending both), stamps 100 ms apart.
    for (const p of pulseTrain(a)) asm.bit(p.line === 'd1' ? 1 : 0, t0 + p.atMs);
    for (const p of pulseTrain(b, { startMs: 200 })) asm.bit(p.line === 'd1' ? 1 : 0, t0 + p.atMs);
    vi.advanceTimersByTime(25);
    expect(frames.map((f) => (f.kind === 'frame' ? f.bits : f.kind))).toEqual([a, b]);
    // The first frame was ended by the second's first edge: its lines cannot be read as idle then.
    expect(frames.map((f) => (f.kind === 'frame' ? f.endedBy : f.kind))).toEqual(['gap', 'idle']);
  });

  it('keeps a frame whole when it arrives split across event-loop turns', () => {
    const bits = encodeCard('H10306', { facility: 300, card: 4000 });
    const train = pulseTrain(bits, { intervalMs: 5 });
    const t0 = Date.now();
    play(train.slice(0, 10), t0);
    vi.advanceTimersByTime(4);
    play(train.slice(10), t0);
    vi.advanceTimersByTime(25);
    expect(frames).toMatchObject([{ kind: 'frame', bits }]);
  });

  it('drops a frame longer than maxBits whole (a line chattering) and recovers after the idle gap', () => {
    make({ maxBits: 40 });
    play(pulseTrain('01'.repeat(100), { intervalMs: 1 }));
    vi.advanceTimersByTime(25);
    expect(frames).toEqual([{ kind: 'noise', bits: 40, detail: expect.stringContaining('stuck or noisy') }]);
    const good = encodeCard('H10301', { facility: 3, card: 3 });
    play(pulseTrain(good));
    vi.advanceTimersByTime(25);
    expect(frames[1]).toMatchObject({ kind: 'frame', bits: good });
  });

  it('marks a frame as noise when D0 and D1 pulse at nearly the same time (when enabled)', () => {
    make({ minBitIntervalMs: 0.1 });
    const t0 = Date.now();
    asm.bit(0, t0);
    asm.bit(1, t0 + 0.01);
    for (let i = 1; i <= 24; i++) asm.bit(0, t0 + i * 2);
    vi.advanceTimersByTime(25);
    expect(frames).toEqual([{ kind: 'noise', bits: 26, detail: expect.stringContaining('D0 and D1') }]);
  });

  it('reports nothing for an idle flush and nothing after stop', () => {
    asm.flush();
    asm.bit(1, Date.now());
    asm.stop();
    vi.advanceTimersByTime(100);
    expect(frames).toEqual([]);
  });
});

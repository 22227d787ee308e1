import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { engagementSchema } from '../../config/sections/engagement.js';
import { ProximityTracker, estimateDistance, rssiAtDistance, type ProximitySettings, type ZoneTransition } from './proximity.js';

const base = engagementSchema.parse({}).proximity;
const TX = -59;
const N = 2;

function tracker(overrides: Partial<ProximitySettings> = {}) {
  const out: ZoneTransition[] = [];
  const t = new ProximityTracker({ ...base, ...overrides }, (x) => out.push(x));
  const feed = (monoAt: number, rssi: number, person = 'h1', zone = 'cafe') =>
    t.observe({ person, zone, rssi, txPower: TX, exponent: N, monoAt, holderRef: person, beacon: 'b', observer: 'radio' });
  return { t, out, feed };
}

describe('log-distance model', () => {
  it('puts the calibrated power at 1 m and 20 dB less at 10 m for exponent 2', () => {
    expect(estimateDistance(-59, -59, 2)).toBeCloseTo(1);
    expect(estimateDistance(-79, -59, 2)).toBeCloseTo(10);
    expect(rssiAtDistance(10, -59, 2)).toBeCloseTo(-79);
    expect(estimateDistance(rssiAtDistance(3.3, -65, 2.7), -65, 2.7)).toBeCloseTo(3.3);
  });
});

describe('ProximityTracker', () => {
  it('enters once the filter has settled near the beacon, then reports dwell and a moved-away exit', () => {
    const { t, out, feed } = tracker({ minSamples: 3, dwellEventMs: 60_000, minDwellMs: 10_000, exitAfterMs: 5_000 });
    feed(0, -60);
    feed(1000, -60);
    expect(out).toEqual([]);
    feed(2000, -60);
    expect(out).toEqual([expect.objectContaining({ kind: 'entered', person: 'h1', zone: 'cafe', monoAt: 2000, holderRef: 'h1' })]);
    expect(t.occupancy('cafe')).toBe(1);
    for (let m = 3000; m <= 62_000; m += 1000) feed(m, -60);
    expect(out.map((x) => x.kind)).toEqual(['entered', 'dwelled']);
    expect(out[1]).toMatchObject({ dwellMs: 60_000 });
    let m = 63_000;
    for (; out.length < 3 && m < 200_000; m += 1000) feed(m, -95);
    expect(out[2]).toMatchObject({ kind: 'exited', reason: 'moved_away' });
    expect((out[2] as { dwellMs: number }).dwellMs).toBeGreaterThan(61_000);
    expect(t.occupancy('cafe')).toBe(0);
  });

  it('holds a stay between the enter and exit distances (hysteresis)', () => {
    const { out, feed } = tracker({ smoothing: 'ema', emaAlpha: 1, minSamples: 1, minDwellMs: 0, exitAfterMs: 0 });
    feed(0, Math.round(rssiAtDistance(3, TX, N)));
    const between = Math.round(rssiAtDistance(5.5, TX, N));
    for (let m = 1000; m < 60_000; m += 1000) feed(m, between);
    expect(out.map((x) => x.kind)).toEqual(['entered']);
    feed(60_000, Math.round(rssiAtDistance(9, TX, N)));
    expect(out.map((x) => x.kind)).toEqual(['entered', 'exited']);
  });

  it('does not exit before the minimum dwell, even when the person walks straight out', () => {
    const { out, feed, t } = tracker({ smoothing: 'ema', emaAlpha: 1, minSamples: 1, minDwellMs: 10_000, exitAfterMs: 0 });
    feed(0, -60);
    feed(500, -100);
    feed(9_999, -100);
    expect(out.map((x) => x.kind)).toEqual(['entered']);
    t.tick(10_000);
    expect(out[1]).toMatchObject({ kind: 'exited', monoAt: 10_000, dwellMs: 10_000 });
  });

  it('ends a stay as lost after silence, reporting the dwell until the last sample, and forgets idle tracks', () => {
    const { out, feed, t } = tracker({ minSamples: 1, lostAfterMs: 30_000, minDwellMs: 0 });
    feed(0, -55);
    feed(5_000, -55);
    feed(0, -95, 'h2');
    expect(t.size).toBe(2);
    t.tick(34_999);
    expect(out.map((x) => x.kind)).toEqual(['entered']);
    t.tick(35_000);
    expect(out[1]).toMatchObject({ kind: 'exited', reason: 'lost', dwellMs: 5_000 });
    expect(t.size).toBe(0);
  });

  it('ignores samples older than the last one for the same person and zone', () => {
    const { feed } = tracker();
    expect(feed(5_000, -60)).toBe('accepted');
    expect(feed(4_000, -60)).toBe('out_of_order');
  });

  it('restarts the filter after a long silence outside the zone instead of averaging stale history', () => {
    const { out, feed } = tracker({ smoothing: 'ema', emaAlpha: 0.1, minSamples: 1, lostAfterMs: 30_000 });
    feed(0, -100);
    feed(40_000, -55);
    expect(out.map((x) => x.kind)).toEqual(['entered']);
  });

  it('drains everyone inside on shutdown and keeps state across a settings change', () => {
    const { out, feed, t } = tracker({ minSamples: 1 });
    feed(0, -55);
    t.configure({ ...base, minSamples: 1, enterDistanceM: 1, exitDistanceM: 50 });
    feed(1000, -80);
    expect(out.map((x) => x.kind)).toEqual(['entered']);
    t.drain(2000);
    expect(out[1]).toMatchObject({ kind: 'exited', dwellMs: 2000 });
    expect(t.size).toBe(0);
  });

  it('never produces an enter/exit pair shorter than the minimum dwell for a random RSSI walk around the boundary', () => {
    const step = fc.record({ dt: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 20_000, max: 60_000 })), delta: fc.integer({ min: -12, max: 12 }), tick: fc.boolean() });
    fc.assert(
      fc.property(
        fc.constantFrom<'ema' | 'kalman'>('ema', 'kalman'),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(step, { minLength: 1, maxLength: 300 }),
        (smoothing, minDwellMs, exitAfterMs, steps) => {
          const { out, feed, t } = tracker({ smoothing, minDwellMs, exitAfterMs, minSamples: 1, emaAlpha: 0.8 });
          const boundary = rssiAtDistance(5.5, TX, N);
          let rssi = boundary;
          let mono = 0;
          for (const s of steps) {
            mono += s.dt;
            rssi = Math.max(boundary - 25, Math.min(boundary + 25, rssi + s.delta));
            feed(mono, Math.round(rssi));
            if (s.tick) t.tick(mono);
          }
          t.tick(mono + 1_000_000);
          let enteredAt: number | undefined;
          for (const x of out) {
            if (x.kind === 'entered') {
              expect(enteredAt).toBeUndefined();
              enteredAt = x.monoAt;
            } else if (x.kind === 'exited') {
              expect(enteredAt).toBeDefined();
              expect(x.monoAt - enteredAt!).toBeGreaterThanOrEqual(minDwellMs);
              enteredAt = undefined;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses new tracks beyond its bound', async () => {
    const { MAX_TRACKS } = await import('./proximity.js');
    const { t } = tracker();
    for (let i = 0; i < MAX_TRACKS; i++) t.observe({ person: `p${i}`, zone: 'z', rssi: -90, txPower: TX, exponent: N, monoAt: 0, beacon: 'b', observer: 'o' });
    expect(t.observe({ person: 'one-more', zone: 'z', rssi: -90, txPower: TX, exponent: N, monoAt: 0, beacon: 'b', observer: 'o' })).toBe('tracker_full');
  });
});

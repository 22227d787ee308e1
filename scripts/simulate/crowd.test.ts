import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrivalShare, makeCrowd, seededRandom } from './crowd.js';
import { scenarioSchema } from './scenario.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');

describe('crowd model', () => {
  it('replays the same credential sequence for the same seed, and a different one for another seed', () => {
    const s = scenarioSchema.parse({ seed: 42, entries: 500, durationS: 10 });
    const a = makeCrowd(s, [1, 1, 2], ['bowl'], NOW);
    const b = makeCrowd(s, [1, 1, 2], ['bowl'], NOW);
    expect(b.arrivals).toEqual(a.arrivals);
    expect(b.holders).toEqual(a.holders);
    const c = makeCrowd({ ...s, seed: 43 }, [1, 1, 2], ['bowl'], NOW);
    expect(c.arrivals.map((x) => x.credential)).not.toEqual(a.arrivals.map((x) => x.credential));
  });

  it('follows the mix: expired, blocked and unknown cards, and passback attempts by holders who entered earlier', () => {
    const s = scenarioSchema.parse({ seed: 1, entries: 20_000, durationS: 60, mix: { expired: 0.1, blocked: 0.05, passback: 0.1, unknown: 0.05 } });
    const { holders, arrivals } = makeCrowd(s, [1], ['bowl'], NOW);
    const share = (e: string) => arrivals.filter((a) => a.expect === e).length / arrivals.length;
    expect(share('expired')).toBeCloseTo(0.1, 1);
    expect(share('blocked')).toBeCloseTo(0.05, 1);
    expect(share('passback')).toBeCloseTo(0.1, 1);
    expect(share('unknown')).toBeCloseTo(0.05, 1);
    const byCredential = new Map(holders.map((h) => [h.credentials[0]!.value, h]));
    const firstValidAt = new Map<string, number>();
    for (const a of arrivals) {
      const h = byCredential.get(a.credential);
      if (a.expect === 'unknown') expect(h).toBeUndefined();
      if (a.expect === 'expired') expect(Date.parse(h!.validUntil!)).toBeLessThan(NOW);
      if (a.expect === 'blocked') expect(h!.blocked).toBeDefined();
      if (a.expect === 'valid') {
        expect(h!.blocked).toBeUndefined();
        expect(firstValidAt.has(a.credential)).toBe(false);
        firstValidAt.set(a.credential, a.atMs);
      }
      if (a.expect === 'passback') expect(firstValidAt.get(a.credential)).toBeLessThanOrEqual(a.atMs);
    }
  });

  it('gives every holder a distinct H10301-sized card and spreads arrivals over the lanes by weight', () => {
    const s = scenarioSchema.parse({ seed: 5, entries: 90_000, durationS: 60, mix: { expired: 0, blocked: 0, passback: 0, unknown: 0 } });
    const { holders, arrivals } = makeCrowd(s, [1, 3], ['bowl'], NOW);
    const values = new Set(holders.map((h) => h.credentials[0]!.value));
    expect(values.size).toBe(holders.length);
    for (const a of arrivals.slice(0, 2000)) {
      expect(a.facility).toBeLessThan(256);
      expect(a.card).toBeLessThan(65_536);
    }
    const onSecond = arrivals.filter((a) => a.lane === 1).length / arrivals.length;
    expect(onSecond).toBeCloseTo(0.75, 1);
  });

  it('shapes arrivals by the curve: slow during the ramp, at the peak rate in the middle', () => {
    const s = scenarioSchema.parse({ seed: 9, entries: 10_000, durationS: 100, arrival: { rampUp: 0.3, tail: 0.3 } });
    const { arrivals } = makeCrowd(s, [1], ['bowl'], NOW);
    const inWindow = (from: number, to: number) => arrivals.filter((a) => a.atMs >= from * 1000 && a.atMs < to * 1000).length;
    expect(inWindow(0, 10)).toBeLessThan(inWindow(45, 55) / 2);
    expect(arrivals.every((a, i) => i === 0 || a.atMs >= arrivals[i - 1]!.atMs)).toBe(true);
    expect(arrivals.at(-1)!.atMs).toBeLessThanOrEqual(100_000);
  });

  it('refuses a crowd with nowhere to go', () => {
    expect(() => makeCrowd(scenarioSchema.parse({}), [], ['bowl'], NOW)).toThrow(/no entry lanes/);
  });

  it('arrivalShare is a CDF: 0 at the start, 1 at the end, never decreasing (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (ramp, tail, u, v) => {
        expect(arrivalShare(0, ramp, tail)).toBeCloseTo(0, 9);
        expect(arrivalShare(1, ramp, tail)).toBeCloseTo(1, 9);
        const [lo, hi] = u <= v ? [u, v] : [v, u];
        expect(arrivalShare(lo, ramp, tail)).toBeLessThanOrEqual(arrivalShare(hi, ramp, tail) + 1e-12);
      }),
    );
  });

  it('seededRandom stays in [0, 1) and depends only on the seed (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const a = seededRandom(seed);
        const b = seededRandom(seed);
        for (let i = 0; i < 20; i++) {
          const x = a();
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThan(1);
          expect(b()).toBe(x);
        }
      }),
    );
  });
});

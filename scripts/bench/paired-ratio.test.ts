import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adjustedRatio, pairedRatio } from './paired-ratio.js';

describe('pairedRatio', () => {
  it('gives the geometric mean of the ratios and a Student t interval (the fifth session\'s eleven surge pairs)', () => {
    const hostile = [31.7, 31.3, 30.6, 31.8, 31.3, 52.2, 72.4, 65.9, 45.5, 53.9, 55.4];
    const clean = [32.5, 31.8, 32.6, 31.6, 32.5, 40.3, 70.0, 52.0, 84.4, 67.0, 60.8];
    const r = pairedRatio(hostile, clean);
    expect(r.n).toBe(11);
    expect(r.geomean).toBeCloseTo(0.953, 3);
    expect(r.low).toBeCloseTo(0.815, 3);
    expect(r.high).toBeCloseTo(1.114, 3);
  });

  it('has no interval for a single pair', () => {
    const r = pairedRatio([40], [32]);
    expect(r).toEqual({ n: 1, geomean: 1.25 });
  });

  it('refuses series of different lengths, empty ones and values that are not positive', () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(RangeError);
    expect(() => pairedRatio([], [])).toThrow(RangeError);
    expect(() => pairedRatio([1, 0], [1, 1])).toThrow(/positive/);
    expect(() => pairedRatio([1, Number.NaN], [1, 1])).toThrow(/positive/);
  });

  const series = fc.integer({ min: 2, max: 40 }).chain((n) =>
    fc.tuple(
      fc.array(fc.double({ min: 1, max: 500, noNaN: true }), { minLength: n, maxLength: n }),
      fc.array(fc.double({ min: 1, max: 500, noNaN: true }), { minLength: n, maxLength: n }),
    ),
  );

  it('brackets its own mean, scales with the runs and inverts when the runs swap (property)', () => {
    fc.assert(
      fc.property(series, fc.double({ min: 0.1, max: 10, noNaN: true }), ([a, b], k) => {
        const r = pairedRatio(a, b);
        expect(r.low!).toBeLessThanOrEqual(r.geomean * (1 + 1e-9));
        expect(r.high!).toBeGreaterThanOrEqual(r.geomean * (1 - 1e-9));
        const scaled = pairedRatio(
          a.map((x) => x * k),
          b,
        );
        expect(scaled.geomean / r.geomean).toBeCloseTo(k, 6);
        expect(scaled.high! / r.high!).toBeCloseTo(k, 6);
        const swapped = pairedRatio(b, a);
        expect(swapped.geomean * r.geomean).toBeCloseTo(1, 6);
        expect(swapped.low! * r.high!).toBeCloseTo(1, 6);
      }),
    );
  });

  it('is exactly 1 with no spread when both series are the same (property)', () => {
    fc.assert(
      fc.property(series, ([a]) => {
        const r = pairedRatio(a, a);
        expect(r.geomean).toBeCloseTo(1, 12);
        expect(r.low).toBeCloseTo(1, 12);
        expect(r.high).toBeCloseTo(1, 12);
      }),
    );
  });
});

describe('adjustedRatio (the ratio at equal machine speed)', () => {
  // The sixth session's 16 surge pairs: lane p99 (rest of the venue, clean) and the simulator's CPU (hostile, clean).
  const hostile = [78.5, 66.2, 52.2, 58.3, 74.5, 88.4, 66.2, 74.5, 95.6, 43.1, 61.7, 66, 84.1, 71.9, 46.5, 92.8];
  const clean = [110.2, 65.4, 69.6, 65.4, 106.4, 80.4, 76.2, 91.4, 91.6, 72, 57, 36.5, 74.4, 38.1, 71.8, 65.7];
  const simHostile = [38.3, 35.7, 35.2, 35.2, 37, 37.6, 35.9, 38.5, 39.3, 31.8, 33.9, 37.6, 37.3, 35.3, 31.5, 37.5];
  const simClean = [38.8, 34.3, 35.1, 34.1, 38.4, 37.2, 35.8, 37.8, 38.8, 36.6, 34.6, 29.1, 36, 29.8, 35.3, 35.5];

  it('reads the line through log ratios where the covariate is equal (a fixed vector)', () => {
    const r = adjustedRatio(hostile, clean, simHostile, simClean);
    expect(r.n).toBe(16);
    expect(r.slope).toBeCloseTo(3.24, 2);
    expect(r.r2).toBeCloseTo(0.79, 2);
    expect(r.geomean).toBeCloseTo(0.912, 3);
    expect(r.low).toBeCloseTo(0.834, 3);
    expect(r.high).toBeCloseTo(0.998, 3);
    // The plain ratio of the same pairs is wider: the machine's part is noise to it.
    const plain = pairedRatio(hostile, clean);
    expect(plain.high! - plain.low!).toBeGreaterThan(r.high! - r.low!);
  });

  it('recovers an exact effect and slope from pairs the machine moved (property)', () => {
    const pairs = fc.array(fc.tuple(fc.double({ min: 10, max: 200, noNaN: true }), fc.double({ min: 20, max: 40, noNaN: true }), fc.double({ min: 20, max: 40, noNaN: true })), { minLength: 3, maxLength: 30 });
    fc.assert(
      fc.property(pairs, fc.double({ min: 0.5, max: 2, noNaN: true }), fc.double({ min: -4, max: 4, noNaN: true }), (ps, effect, slope) => {
        fc.pre(new Set(ps.map(([, sh, sc]) => (sh / sc).toFixed(6))).size > 1);
        const a = ps.map(([c, sh, sc]) => c * effect * (sh / sc) ** slope);
        const r = adjustedRatio(a, ps.map(([c]) => c), ps.map(([, sh]) => sh), ps.map(([, , sc]) => sc));
        expect(r.geomean).toBeCloseTo(effect, 6);
        expect(r.slope).toBeCloseTo(slope, 6);
        expect(r.low).toBeCloseTo(effect, 5);
        expect(r.high).toBeCloseTo(effect, 5);
      }),
    );
  });

  it('has no interval with fewer than three pairs or a covariate that never moves', () => {
    expect(adjustedRatio([40, 30], [32, 30], [30, 31], [31, 30]).low).toBeUndefined();
    const still = adjustedRatio([40, 30, 35], [32, 30, 34], [30, 30, 30], [30, 30, 30]);
    expect(still.low).toBeUndefined();
    expect(still.geomean).toBeCloseTo(pairedRatio([40, 30, 35], [32, 30, 34]).geomean, 12);
    expect(() => adjustedRatio([40, 30, 35], [32, 30, 34], [30, 30], [30, 30])).toThrow(RangeError);
    expect(() => adjustedRatio([40, 30, 35], [32, 30, 34], [30, 0, 30], [30, 30, 30])).toThrow(/positive/);
  });
});

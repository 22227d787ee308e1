import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairedRatio } from './paired-ratio.js';

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

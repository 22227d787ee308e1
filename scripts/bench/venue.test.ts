import { describe, expect, it } from 'vitest';
import { ratioInterval } from './venue.js';

describe('bench venue: p99 ratio interval', () => {
  const base = Array.from({ length: 3_000 }, (_, i) => 50 + ((i * 7919) % 200));

  it('is exactly the ratio when one side is the other scaled', () => {
    expect(ratioInterval(base.map((v) => v * 1.5), base, 99)).toEqual([1.5, 1.5]);
  });

  it('spans the 1.2 target when one side has outliers right at the p99 rank (about 1% of samples)', () => {
    const spiky = base.map((v, i) => (i % 97 === 0 ? v * 20 : v));
    const [lo, hi] = ratioInterval(spiky, base, 99);
    expect(lo).toBeLessThan(1.2);
    expect(hi).toBeGreaterThan(1.2);
  });
});

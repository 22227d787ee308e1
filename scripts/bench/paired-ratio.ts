/**
 * How much slower `a` is than `b` over paired runs (a[i] and b[i] ran one
 * after the other on the same machine): the geometric mean of a[i]/b[i] and
 * its 95 % interval, a Student's t interval on the log ratios.
 *
 * Why pairs and logs: on a shared 2-core machine a single run's lane p99
 * moves by ±30 % with the machine's speed (docs/benchmarks.md, "Surge"), and
 * both runs of a pair see about the same machine. Ratios multiply, so their
 * logs are what is averaged; the interval is exp(mean ± t·sd/√n).
 */

/** Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond. */
const T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export interface RatioInterval {
  n: number;
  geomean: number;
  /** Undefined with fewer than two pairs. */
  low?: number;
  high?: number;
}

export function pairedRatio(a: readonly number[], b: readonly number[]): RatioInterval {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`pairedRatio needs two non-empty series of the same length (got ${a.length} and ${b.length})`);
  const logs = a.map((x, i) => {
    const y = b[i]!;
    if (!(x > 0) || !(y > 0)) throw new RangeError(`pairedRatio needs positive values (pair ${i}: ${x}, ${y})`);
    return Math.log(x / y);
  });
  const n = logs.length;
  const mean = logs.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { n, geomean: Math.exp(mean) };
  const sd = Math.sqrt(logs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = (T_975[n - 2] ?? 1.96) * (sd / Math.sqrt(n));
  return { n, geomean: Math.exp(mean), low: Math.exp(mean - half), high: Math.exp(mean + half) };
}

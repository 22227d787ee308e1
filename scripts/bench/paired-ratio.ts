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
  const logs = logRatios(a, b);
  const n = logs.length;
  const mean = logs.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { n, geomean: Math.exp(mean) };
  const sd = Math.sqrt(logs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = (T_975[n - 2] ?? 1.96) * (sd / Math.sqrt(n));
  return { n, geomean: Math.exp(mean), low: Math.exp(mean - half), high: Math.exp(mean + half) };
}

/** log(a[i]/b[i]) for two non-empty series of positive values of the same length. */
function logRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`paired series must be non-empty and of the same length (got ${a.length} and ${b.length})`);
  return a.map((x, i) => {
    const y = b[i]!;
    if (!(x > 0) || !(y > 0)) throw new RangeError(`paired series need positive values (pair ${i}: ${x}, ${y})`);
    return Math.log(x / y);
  });
}

export interface AdjustedRatio extends RatioInterval {
  /** How the log ratio moves with the covariate's log ratio (3 = a 10 % slower machine, ~33 % slower lanes). */
  slope: number;
  /** Share of the log ratios' variance the covariate explains. */
  r2: number;
}

/**
 * The ratio a/b at equal machine speed: a least-squares line through the
 * pairs' log(a/b) against log(covA/covB), read where the covariate's ratio is
 * 1 (its intercept), with a Student's t interval on n - 2 degrees of freedom.
 *
 * Why: when both runs of a pair do not see the same machine, the pair's ratio
 * is the machine's change times the treatment's. A covariate that measures
 * the machine (work that is the same in both runs, e.g. the simulator's CPU
 * seconds) takes the machine's part out, rather than dropping the pairs it
 * moved. It assumes the treatment does not itself move the covariate.
 * Undefined interval with fewer than three pairs or a covariate that never varies.
 */
export function adjustedRatio(a: readonly number[], b: readonly number[], covA: readonly number[], covB: readonly number[]): AdjustedRatio {
  const y = logRatios(a, b);
  const x = logRatios(covA, covB);
  if (x.length !== y.length) throw new RangeError(`adjustedRatio needs a covariate for every pair (got ${x.length} for ${y.length})`);
  const n = y.length;
  const mean = (v: readonly number[]) => v.reduce((s, e) => s + e, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  const sxx = x.reduce((s, e) => s + (e - mx) ** 2, 0);
  const syy = y.reduce((s, e) => s + (e - my) ** 2, 0);
  if (n < 3 || !(sxx > 0)) return { n, geomean: Math.exp(my), slope: 0, r2: 0 };
  const slope = x.reduce((s, e, i) => s + (e - mx) * (y[i]! - my), 0) / sxx;
  const intercept = my - slope * mx;
  const residual = y.reduce((s, e, i) => s + (e - intercept - slope * x[i]!) ** 2, 0);
  const se = Math.sqrt((residual / (n - 2)) * (1 / n + (mx * mx) / sxx));
  const half = (T_975[n - 3] ?? 1.96) * se;
  return { n, geomean: Math.exp(intercept), low: Math.exp(intercept - half), high: Math.exp(intercept + half), slope, r2: syy > 0 ? 1 - residual / syy : 1 };
}

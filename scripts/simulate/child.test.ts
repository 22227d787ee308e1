import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { histogramQuantile, machineTicks, parseMetrics, percentile, processUsage, stealPct, waitFor } from './child.js';

const TEXT = `# HELP gatehouse_decisions_total Access decisions
# TYPE gatehouse_decisions_total counter
gatehouse_decisions_total{result="granted",reason="ok",lane="n1"} 7
gatehouse_decisions_total{result="denied",reason="unknown",lane="n2"} 3
gatehouse_decision_seconds_bucket{le="0.0005"} 8
gatehouse_decision_seconds_bucket{le="0.001"} 10
gatehouse_decision_seconds_bucket{le="+Inf"} 10
gatehouse_outbox_depth 42
gatehouse_process_nodejs_eventloop_lag_p99_seconds 0.012
gatehouse_event_loop_utilization{window="1s"} 0.87
gatehouse_event_loop_utilization{window="10s"} 0.5
gatehouse_errors_total{code="GH_MQTT_PAYLOAD"} 5
gatehouse_errors_total{code="GH_MQTT_PAYLOAD",device="k"} 1
not a sample line
`;

describe('reading the gateway /metrics', () => {
  it('sums decisions, collects buckets, depth, loop delay and errors by code', () => {
    const s = parseMetrics(TEXT);
    expect(s.decisions).toBe(10);
    expect(s.outboxDepth).toBe(42);
    expect(s.loopLagP99).toBeCloseTo(0.012);
    expect(s.loopBusy).toBe(0.87);
    expect(parseMetrics('gatehouse_outbox_depth 1\n').loopBusy).toBeNaN();
    expect(s.errors).toEqual({ GH_MQTT_PAYLOAD: 6 });
    expect([...s.buckets]).toEqual([
      [0.0005, 8],
      [0.001, 10],
      [Infinity, 10],
    ]);
  });

  it('interpolates a quantile inside its bucket, over the observations between two scrapes', () => {
    const before = new Map([
      [0.001, 0],
      [0.002, 0],
      [Infinity, 0],
    ]);
    const after = new Map([
      [0.001, 50],
      [0.002, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, before, after)).toBeCloseTo(0.001);
    expect(histogramQuantile(0.75, before, after)).toBeCloseTo(0.0015);
    expect(histogramQuantile(0.99, after, after)).toBeNaN();
  });

  it('never reports a quantile beyond the largest finite bucket, and is monotone in q (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 3, maxLength: 3 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), (adds, q1, q2) => {
        const bounds = [0.001, 0.01, Infinity];
        let cum = 0;
        const after = new Map(bounds.map((b, i) => [b, (cum += adds[i]!)]));
        const before = new Map(bounds.map((b) => [b, 0]));
        const [lo, hi] = q1 <= q2 ? [q1, q2] : [q2, q1];
        const a = histogramQuantile(lo, before, after);
        const b = histogramQuantile(hi, before, after);
        if (cum === 0) {
          // An empty histogram has no quantile. (Returning the assertion's value would
          // hand fast-check a falsy result and fail the property.)
          expect(a).toBeNaN();
          return;
        }
        expect(b).toBeLessThanOrEqual(0.01);
        expect(a).toBeLessThanOrEqual(b + 1e-12);
      }),
      // The empty histogram, which once failed the property through a returned assertion value;
      // and a rank at the top of a bucket, whose interpolation overshot the bound by a rounding error.
      { examples: [[[0, 0, 0], 0.01, 0.01], [[0, 1, 0], 0.01, 1]] },
    );
  });

  it('picks nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('reads peak RSS and CPU time of a live process, and nothing for a missing one', () => {
    const u = processUsage(process.pid);
    expect(u!.rssMb).toBeGreaterThan(1);
    expect(u!.cpuS).toBeGreaterThanOrEqual(0);
    expect(processUsage(2 ** 22 + 12345)).toBeUndefined();
  });

  it('reads the machine CPU ticks and turns two readings into the share the host stole', () => {
    const m = machineTicks();
    expect(m!.total).toBeGreaterThan(0);
    expect(m!.steal).toBeGreaterThanOrEqual(0);
    expect(m!.steal).toBeLessThanOrEqual(m!.total);
    expect(stealPct({ total: 1000, steal: 10 }, { total: 1400, steal: 30 })).toBe(5);
    // No time between the readings, or one missing: unknown, not 0 %.
    expect(stealPct({ total: 1000, steal: 10 }, { total: 1000, steal: 10 })).toBe(-1);
    expect(stealPct(undefined, { total: 1000, steal: 10 })).toBe(-1);
  });

  it('waitFor resolves once the check holds and fails naming what it waited for', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, 5000, 'three polls', 1);
    expect(n).toBe(3);
    await expect(waitFor(() => false, 20, 'the impossible', 5)).rejects.toThrow(/the impossible/);
  });
});

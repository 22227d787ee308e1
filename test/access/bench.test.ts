import { describe, expect, it } from 'vitest';
import { run as runAccess } from '../../scripts/bench/access.js';
import { gcPauses, run as runSnapshot } from '../../scripts/bench/snapshot.js';
import { gatewayNodeFlags } from '../../gateway/ops/node-flags.js';

// Smoke tests only: the benchmarks must keep running and return the fields issue #3 asks for. No timing is asserted.
describe('access benchmarks', () => {
  it('bench access returns the issue #3 fields and exercises every decision kind of its mix', async () => {
    const result = await runAccess({ entitlements: 2_000, decisions: 2_000 });
    expect(result).toMatchObject({ entitlements: 2_000, decisions: 2_000 });
    for (const key of ['p50_us', 'p99_us', 'max_us', 'rss_mb', 'build_s']) expect(typeof result[key]).toBe('number');
    expect(Object.keys(result.reasons as object).sort()).toEqual(['anti_passback', 'expired', 'granted', 'invalid_credential', 'unknown_credential', 'wrong_zone']);
  });

  it('bench snapshot returns apply time and decision gaps, with decisions running during the load, in a child started with the gateway\'s Node flags', async () => {
    // From the source (tsx) rather than compiled: the same child, without the 11 s compile.
    const result = await runSnapshot({ entitlements: 20_000, source: true });
    expect(result).toMatchObject({ entitlements: 20_000, holders_after: 20_000, node_flags: gatewayNodeFlags(), gateway: 'source (tsx)' });
    // Its event loop under SCHED_RR at 10, as provision configures a gateway; refused (not root, no LimitRTPRIO), it says why.
    if (result.realtime_priority !== 10) expect(result).toMatchObject({ realtime_priority: null, realtime_refused: expect.any(String) });
    if (process.platform === 'linux' && process.getuid?.() === 0) expect(result.realtime_priority).toBe(10);
    expect(typeof result.apply_s).toBe('number');
    expect(typeof result.max_decision_gap_ms).toBe('number');
    expect(result.decisions_during_load).toBeGreaterThan(1);
    expect(Array.isArray(result.gaps_over_5ms)).toBe(true);
    // On Linux every long gap says how much of it the event loop ran and how much it waited for a CPU.
    if (process.platform === 'linux') {
      for (const gap of result.gaps_over_5ms as Array<Record<string, unknown>>) {
        expect(gap).toEqual({ at_s: expect.any(Number), ms: expect.any(Number), on_cpu_ms: expect.any(Number), runqueue_ms: expect.any(Number), gc_ms: expect.any(Number), gc: expect.any(Array) });
      }
    }
  });

  it('bench snapshot measures in its own process when asked', async () => {
    const result = await runSnapshot({ entitlements: 5_000, inProcess: true });
    expect(result).toMatchObject({ entitlements: 5_000, holders_after: 5_000, gateway: 'in-process' });
  });

  it("names the event loop's garbage collections inside a stretch of time, and none outside it", async () => {
    const gc = gcPauses();
    const from = performance.now();
    // Enough short-lived garbage for several young-generation collections.
    let keep: unknown[] = [];
    for (let i = 0; i < 2_000_000; i++) {
      keep.push({ i, s: `x${i}` });
      if (keep.length > 1_000) keep = [];
    }
    const to = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const during = gc.within(from, to);
    const before = gc.within(from - 60_000, from - 30_000);
    gc.stop();
    expect(during.gc).toContain('scavenge');
    expect(during.gc_ms).toBeGreaterThan(0);
    expect(during.gc_ms).toBeLessThanOrEqual(to - from);
    expect(before).toEqual({ gc_ms: 0, gc: [] });
  });
});

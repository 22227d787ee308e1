import { describe, expect, it } from 'vitest';
import { run as runAccess } from '../../scripts/bench/access.js';
import { run as runSnapshot } from '../../scripts/bench/snapshot.js';

// Smoke tests only: the benchmarks must keep running and return the fields issue #3 asks for. No timing is asserted.
describe('access benchmarks', () => {
  it('bench access returns the issue #3 fields and exercises every decision kind of its mix', async () => {
    const result = await runAccess({ entitlements: 2_000, decisions: 2_000 });
    expect(result).toMatchObject({ entitlements: 2_000, decisions: 2_000 });
    for (const key of ['p50_us', 'p99_us', 'max_us', 'rss_mb', 'build_s']) expect(typeof result[key]).toBe('number');
    expect(Object.keys(result.reasons as object).sort()).toEqual(['anti_passback', 'expired', 'granted', 'invalid_credential', 'unknown_credential', 'wrong_zone']);
  });

  it('bench snapshot returns apply time and decision gaps, with decisions running during the load', async () => {
    const result = await runSnapshot({ entitlements: 20_000 });
    expect(result).toMatchObject({ entitlements: 20_000, holders_after: 20_000 });
    expect(typeof result.apply_s).toBe('number');
    expect(typeof result.max_decision_gap_ms).toBe('number');
    expect(result.decisions_during_load).toBeGreaterThan(1);
    expect(Array.isArray(result.gaps_over_5ms)).toBe(true);
    // On Linux every long gap says how much of it the event loop ran and how much it waited for a CPU.
    if (process.platform === 'linux') {
      for (const gap of result.gaps_over_5ms as Array<Record<string, unknown>>) {
        expect(gap).toEqual({ at_s: expect.any(Number), ms: expect.any(Number), on_cpu_ms: expect.any(Number), runqueue_ms: expect.any(Number) });
      }
    }
  });
});

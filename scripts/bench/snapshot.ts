import { loadavg } from 'node:os';
import { Registry } from 'prom-client';
import { createAccessEngine, openEntitlementStore } from '../../gateway/access/index.js';
import { silentLogger } from '../../gateway/core/log.js';
import { benchCard, benchClock, benchDir, benchLanes, benchRecords, benchZones, num, percentile } from './access-fixture.js';

/**
 * `gatehouse bench snapshot`: applies a snapshot of N holders while the same
 * process keeps deciding, and reports the longest gap between two decisions
 * (the event loop blocked by the load or the swap). Issue #3 targets with
 * N = 1,000,000: apply_s <= 20, max_decision_gap_ms <= 10.
 */
export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const entitlements = num(options.entitlements, 1_000_000);
  const { dir, remove } = benchDir();
  const clock = benchClock();
  const log = silentLogger();
  const metrics = new Registry();
  const store = openEntitlementStore({ dataDir: dir, key: Buffer.alloc(32, 0x42), clock, log, metrics });
  const engine = createAccessEngine({ store, zones: benchZones, lanes: benchLanes, clock, metrics, log, timezone: 'UTC', stateDir: dir });
  try {
    // The "old" cache the decisions run against while the new one loads.
    await store.applySnapshot(benchRecords(10_000), { version: 'old', issuedAt: new Date(clock.now()).toISOString() });

    let done = false;
    let maxGap = 0;
    const gaps: number[] = [];
    let decisionsDuring = 0;
    let last = performance.now();
    const reasons: Record<string, number> = {};
    const decider = new Promise<void>((resolve) => {
      const loop = () => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        gaps.push(now - last);
        last = now;
        const d = engine.decide(decisionsDuring % 2 === 0 ? 'bowl-in' : 'bowl-out', { kind: 'card', value: benchCard(decisionsDuring % 10_000) });
        reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
        decisionsDuring++;
        if (done) resolve();
        else setImmediate(loop);
      };
      setImmediate(loop);
    });

    const start = performance.now();
    const startCpu = process.cpuUsage();
    await store.applySnapshot(benchRecords(entitlements), { version: 'new', issuedAt: new Date(clock.now()).toISOString() });
    const apply_s = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(startCpu);
    done = true;
    await decider;
    return {
      entitlements,
      apply_s: Math.round(apply_s * 100) / 100,
      // Includes the deciding loop; on a shared box the wall figure mostly measures the neighbours.
      apply_cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
      load_avg_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      max_decision_gap_ms: Math.round(maxGap * 100) / 100,
      // The max is one bad moment (a GC pause, the scheduler); the p99 shows what a reader usually waits.
      p99_decision_gap_ms: Math.round(percentile(Float64Array.from(gaps).sort(), 99) * 100) / 100,
      decisions_during_load: decisionsDuring,
      holders_after: store.status().holders,
      rss_mb: Math.round(process.memoryUsage().rss / 1_048_576),
      reasons,
    };
  } finally {
    engine.close();
    store.close();
    remove();
  }
}

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasSocat } from '../helpers/pty.js';
import { run } from '../../scripts/bench/surge.js';
import type { GatewayBuild } from '../../scripts/bench/compiled-gateway.js';
import type { SimulationOptions, SimulationSummary } from '../../scripts/simulate/simulate.js';

const socat = hasSocat();
if (!socat) console.warn('test/simulate: socat is not installed; the surge benchmark smoke run is skipped (apt-get install socat)');

describe.skipIf(!socat)('gatehouse bench surge (shrunk to a smoke run)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-surge-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the issue #10 figures for a short surge and draws its chart', async () => {
    const chart = join(dir, 'surge.svg');
    const r = await run({ entries: 100, seconds: 2, replicate: 1, hostile: false, chart });
    // The gateway production runs: compiled by tsc, started from the build, and deciding.
    expect(r).toMatchObject({ entries: 100, lanes: 8, lost: 0, duplicates_at_central: 0, hostile: false, gateway_build: 'compiled' });
    for (const key of ['seconds', 'decisions_per_s', 'decision_p99_ms', 'lane_p99_ms', 'central_lag_p95_ms', 'rss_mb', 'cpu_pct']) expect(typeof r[key], key).toBe('number');
    // The clean comparison run only happens with hostile traffic on.
    expect(r).not.toHaveProperty('lane_p99_ms_clean');
    expect(r).not.toHaveProperty('detail_clean');
    expect(existsSync(chart)).toBe(true);
    expect(readFileSync(chart, 'utf8')).toContain('Stadium surge: 100 entries');
  }, 180_000);

  it('rejects a scenario file that does not validate', async () => {
    await expect(run({ scenario: join(dir, 'missing.yaml') })).rejects.toThrow(/cannot read/);
  });
});

/** The scripted runs start no gateway: nothing to compile. */
const asSource = async (): Promise<GatewayBuild> => ({ kind: 'source (tsx)' });

/** A run's summary with the figures the pair comparison reads; the rest zero. */
function summary(lane: number, extra: Partial<SimulationSummary> = {}): SimulationSummary {
  return {
    scenario: 'surge', seed: 10, entries: 60_000, pre_opening_entries: 0, seconds: 60, lanes: 64, lanes_by_transport: {}, decisions: 60_000, granted: 59_000, denied: 1_000,
    unanswered: 0, undecided: 0, unexpected: 0, decisions_per_s: 1_000, decision_p99_ms: 0.25, lane_p50_ms: 2, lane_p99_ms: lane, lane_p99_ms_by_transport: {},
    lane_p99_ms_rest_of_venue: lane, hostile_lanes: [], central_lag_p95_ms: 110, central_lag_p95_ms_outside_outage: 110, access_events_at_central: 60_000,
    events_at_central: 100_000, lost: 0, duplicates_at_central: 0, rss_mb: 240, cpu_pct: 60, simulator_cpu_pct: 25, slowest_lanes: [], osdp_exchanges_per_s_per_bus: 95,
    steal_pct: 0.2, gateway_loop_p99_ms: 20, simulator_loop_p99_ms: 11, sign_contents: 5, beacon_adverts: 3_000, kiosk_interactions: 300, app_sightings: 1_200,
    gateway_errors: {}, skipped_devices: [], timeline: [], ...extra,
  };
}

describe('gatehouse bench surge --pairs (the comparison over several pairs)', () => {
  /** A stand-in for the simulation that answers from a script and records which runs had hostile traffic. */
  function scripted(hostile: number[], clean: number[], extra: (hostileRun: boolean, i: number) => Partial<SimulationSummary> = () => ({})) {
    const calls: boolean[] = [];
    const simulate = async (o: SimulationOptions): Promise<SimulationSummary> => {
      const isHostile = (o.scenario.hostile.kioskMalformedPerSecond ?? 0) > 0;
      const i = calls.filter((h) => h === isHostile).length;
      calls.push(isHostile);
      return summary((isHostile ? hostile : clean)[i]!, extra(isHostile, i));
    };
    return { simulate, calls };
  }

  it('alternates hostile and clean runs and reports the ratio with its interval, every run and the worst of each target', async () => {
    const { simulate, calls } = scripted([30, 33, 60], [31, 30, 50], (h, i) =>
      h && i === 2
        ? { lost: 1, rss_mb: 290, gateway_errors: { GH_MQTT_RATE: 3 }, timeline: [{ t: 1, decisions_per_s: 1_000, lane_p99_ms: 61, decision_p99_ms: 0.3, outbox_depth: 5, central_lag_p95_ms: 120, gateway_loop_p99_ms: 21, gateway_loop_busy_pct: 88, simulator_loop_p99_ms: 11, gateway_cpu_pct: 70, simulator_cpu_pct: 33, steal_pct: 0.2 }] }
        : {});
    const r = await run({ pairs: 3, warmup: false }, simulate, asSource);
    expect(calls).toEqual([true, false, true, false, true, false]);
    // The headline figures stay the first pair's.
    expect(r).toMatchObject({ lane_p99_ms: 30, lane_p99_ms_clean: 31, lost: 0 });
    const pairs = r.pairs as Record<string, unknown>;
    expect(pairs).toMatchObject({
      n: 3,
      lane_p99_ms_rest_of_venue: [30, 33, 60],
      lane_p99_ms_clean: [31, 30, 50],
      rest_of_venue_lane_p99_change_pct: [-3.2, 10, 20],
      lane_p99_ms_max: 60,
      lost_total: 1,
      duplicates_total: 0,
      rss_mb_max: 290,
    });
    expect(pairs.ratio).toBeCloseTo(Math.cbrt((30 / 31) * (33 / 30) * (60 / 50)), 3);
    const [low, high] = pairs.ratio_95ci as [number, number];
    expect(low).toBeLessThan(pairs.ratio as number);
    expect(high).toBeGreaterThan(1.2);
    expect(pairs.within_20pct).toBe(false);
    expect(pairs.slowdown_over_20pct_excluded).toBe(false);
    expect(pairs.steal_pct).toEqual([[0.2, 0.2], [0.2, 0.2], [0.2, 0.2]]);
    // Every run keeps what tells where its time went, not only the first pair.
    const runs = pairs.runs as Array<{ hostile: Record<string, unknown>; clean: Record<string, unknown> }>;
    expect(runs).toHaveLength(3);
    expect(runs[2]!.hostile).toMatchObject({ lane_p99_ms: 60, lost: 1, gateway_errors: { GH_MQTT_RATE: 3 }, steal_pct: 0.2 });
    expect(runs[2]!.hostile.timeline).toEqual([{ t: 1, lane_p99_ms: 61, gateway_cpu_pct: 70, simulator_cpu_pct: 33, gateway_loop_p99_ms: 21, gateway_loop_busy_pct: 88, steal_pct: 0.2 }]);
    expect(runs[2]!.clean.timeline).toEqual([]);
  });

  it('starts every run, the warm-up too, on the build it was given, and says which', async () => {
    const bins: Array<string | undefined> = [];
    const simulate = async (o: SimulationOptions) => {
      bins.push(o.gatewayBin);
      return summary(30);
    };
    const r = await run({ pairs: 2 }, simulate, async () => ({ bin: '/build/gateway/cli/main.js', kind: 'compiled' }));
    expect(bins).toEqual(Array(5).fill('/build/gateway/cli/main.js'));
    expect(r.gateway_build).toBe('compiled');
    const fromSource = await run({ warmup: false }, simulate, async () => ({ kind: 'source (tsx)', note: 'asked for the source' }));
    expect(fromSource).toMatchObject({ gateway_build: 'source (tsx)', gateway_build_note: 'asked for the source' });
    expect(bins.slice(5)).toEqual([undefined, undefined]);
  });

  it('calls the comparison within 20 % only when the whole interval is', async () => {
    const { simulate } = scripted([31, 32, 30, 31], [32, 31, 31, 30]);
    const r = await run({ pairs: 4, warmup: false }, simulate, asSource);
    expect((r.pairs as Record<string, unknown>)).toMatchObject({ within_20pct: true, slowdown_over_20pct_excluded: true });
  });

  it('excludes a 20 % slowdown when the hostile runs were the faster ones, though the change is not within 20 % both ways', async () => {
    // The sixth session's nine pairs (rest of the venue / clean, ms).
    const { simulate } = scripted([78.5, 66.2, 52.2, 58.3, 74.5, 88.4, 66.2, 74.5, 95.6], [110.2, 65.4, 69.6, 65.4, 106.4, 80.4, 76.2, 91.4, 91.6]);
    const pairs = (await run({ pairs: 9, warmup: false }, simulate, asSource)).pairs as Record<string, unknown>;
    expect(pairs.ratio).toBeCloseTo(0.866, 3);
    expect(pairs.ratio_95ci).toEqual([0.761, 0.985]);
    expect(pairs).toMatchObject({ within_20pct: false, slowdown_over_20pct_excluded: true });
  });

  it('names the pairs the machine drifted in and gives the ratio at equal machine speed', async () => {
    // The sixth session's seven pairs with the pre-opening: lane p99 and the simulator's CPU.
    const hostileLane = [43.1, 61.7, 66, 84.1, 71.9, 46.5, 92.8];
    const cleanLane = [72, 57, 36.5, 74.4, 38.1, 71.8, 65.7];
    const simHostile = [31.8, 33.9, 37.6, 37.3, 35.3, 31.5, 37.5];
    const simClean = [36.6, 34.6, 29.1, 36, 29.8, 35.3, 35.5];
    const { simulate } = scripted(hostileLane, cleanLane, (h, i) => ({ simulator_cpu_pct: (h ? simHostile : simClean)[i]! }));
    const pairs = (await run({ pairs: 7, warmup: false }, simulate, asSource)).pairs as Record<string, unknown>;
    expect(pairs.simulator_cpu_pct).toEqual(simHostile.map((h, i) => [h, simClean[i]]));
    // Plain: not excluded. At equal machine speed: excluded, just.
    expect(pairs.ratio_95ci).toEqual([0.738, 1.716]);
    expect(pairs.slowdown_over_20pct_excluded).toBe(false);
    expect(pairs.machine_drift_pairs).toEqual([1, 3, 5, 6]);
    expect(pairs.machine_adjusted).toEqual({ ratio: 1.014, ratio_95ci: [0.871, 1.181], slope: 3.03, r2: 0.908, slowdown_over_20pct_excluded: true });
  });

  it('leaves out the machine adjustment where the simulator CPU is unknown or there are too few pairs', async () => {
    const unknown = scripted([30, 33, 31], [31, 30, 32], (h) => ({ simulator_cpu_pct: h ? -1 : 25 }));
    const p1 = (await run({ pairs: 3, warmup: false }, unknown.simulate, asSource)).pairs as Record<string, unknown>;
    expect(p1).toMatchObject({ machine_drift_pairs: null, machine_adjusted: null });
    const two = scripted([30, 33], [31, 30], (h, i) => ({ simulator_cpu_pct: h ? 25 + i : 25 }));
    const p2 = (await run({ pairs: 2, warmup: false }, two.simulate, asSource)).pairs as Record<string, unknown>;
    expect(p2).toMatchObject({ machine_drift_pairs: [], machine_adjusted: null });
  });

  it('reports no pairs block for one pair, and refuses a pair count that is not a whole number >= 1', async () => {
    const { simulate, calls } = scripted([30], [31]);
    const r = await run({ warmup: false }, simulate, asSource);
    expect(r).not.toHaveProperty('pairs');
    expect(calls).toEqual([true, false]);
    const refused = scripted([30], [31]);
    await expect(run({ pairs: 0, warmup: false }, refused.simulate, asSource)).rejects.toMatchObject({ code: 'GH_USAGE' });
    await expect(run({ pairs: 1.5, warmup: false }, refused.simulate, asSource)).rejects.toMatchObject({ code: 'GH_USAGE' });
    await expect(run({ pairs: 2, hostile: false, warmup: false }, refused.simulate, asSource)).rejects.toMatchObject({ code: 'GH_USAGE' });
    await expect(run({ pairs: 2, compare: false, warmup: false }, refused.simulate, asSource)).rejects.toMatchObject({ code: 'GH_USAGE' });
    expect(refused.calls).toEqual([]);
  });
});

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderChart } from '../simulate/report.js';
import { GatehouseError } from '../../gateway/errors.js';
import { hasSocat } from '../../test/helpers/pty.js';
import { loadScenarioFile, type Scenario } from '../simulate/scenario.js';
import { runSimulation, type SimulationOptions, type SimulationSummary } from '../simulate/simulate.js';
import { compiledGateway, type GatewayBuild } from './compiled-gateway.js';
import { adjustedRatio, pairedRatio } from './paired-ratio.js';

export const STADIUM_YAML = fileURLToPath(new URL('../../config/examples/stadium.yaml', import.meta.url));
export const SURGE_SCENARIO = fileURLToPath(new URL('../../config/examples/scenarios/surge.yaml', import.meta.url));

/**
 * `gatehouse bench surge --json` (issue #10): config/examples/scenarios/surge.yaml
 * replayed on config/examples/stadium.yaml against a child-process gateway,
 * with hostile traffic on. Then, unless `compare: false`, the same crowd again
 * without hostile traffic, so the effect of bad input on the other lanes is a number.
 *
 * Options: `entries`, `seconds` (shrink for a smoke run), `replicate`, `seed`,
 * `hostile` (false = the clean run only), `compare`, `venue`, `scenario` (files),
 * `chart` (write an SVG of the run's timeline to this path), `warmup` (false = no
 * unreported warm-up run first), `pairs` (run hostile and clean this many times,
 * alternating, and report the ratio of their lane p99s with a 95 % interval),
 * `source` (measure the TypeScript source through tsx, not the compiled build).
 * Returns the issue's fields (of the first pair) plus the full summary under `detail`.
 */
export async function run(
  options: Record<string, string | number | boolean>,
  simulate: (o: SimulationOptions) => Promise<SimulationSummary> = runSimulation,
  build: (o: { source?: boolean }) => Promise<GatewayBuild> = compiledGateway,
): Promise<Record<string, unknown>> {
  if (simulate === runSimulation && !hasSocat()) throw new GatehouseError('GH_SIM_GATEWAY', 'the surge benchmark needs socat for its serial lanes (apt-get install socat)');
  const pairs = options.pairs === undefined ? 1 : Number(options.pairs);
  if (!Number.isInteger(pairs) || pairs < 1) throw new GatehouseError('GH_USAGE', `pairs must be a whole number >= 1, got ${String(options.pairs)}`);
  if (pairs > 1 && (options.hostile === false || options.compare === false)) throw new GatehouseError('GH_USAGE', 'pairs compares hostile and clean runs: it needs hostile traffic and the comparison on');
  const scenarioFile = typeof options.scenario === 'string' ? options.scenario : SURGE_SCENARIO;
  const loaded = loadScenarioFile(scenarioFile);
  if (!loaded.ok) throw new GatehouseError('GH_SIM_SCENARIO_INVALID', `${scenarioFile}: ${loaded.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
  const base: Scenario = {
    ...loaded.scenario,
    ...(options.entries !== undefined ? { entries: Number(options.entries) } : {}),
    ...(options.seconds !== undefined ? { durationS: Number(options.seconds) } : {}),
    ...(options.replicate !== undefined ? { replicate: Number(options.replicate) } : {}),
    ...(options.seed !== undefined ? { seed: Number(options.seed) } : {}),
  };
  const clean: Scenario = { ...base, hostile: { ...base.hostile, serialGarbagePerSecond: 0, kioskMalformedPerSecond: 0 } };
  delete clean.hostile.readerOfflineAt;
  delete clean.hostile.centralDownAt;
  const venueFile = typeof options.venue === 'string' ? options.venue : STADIUM_YAML;
  const withHostile = options.hostile !== false;
  // The gateway production runs: compiled JavaScript (scripts/bench/compiled-gateway.ts).
  const gateway = await build({ source: options.source === true });
  const sim = (scenario: Scenario) => simulate({ venueFile, scenario, ...(gateway.bin ? { gatewayBin: gateway.bin } : {}) });
  if (options.warmup !== false) {
    // The simulator is the measuring instrument: its first seconds in a fresh process (JIT, lazy
    // module paths) showed up as a 230-290 ms lane-p99 second in the first measured run only, which
    // is always the hostile one. A short clean run first, not reported, so both start warm. Each
    // measured run still gets a gateway process of its own, cold.
    await sim({ ...clean, entries: Math.min(clean.entries, 3_000), durationS: Math.min(clean.durationS, 3) });
  }
  const main = await sim(withHostile ? base : clean);
  if (typeof options.chart === 'string') {
    writeFileSync(options.chart, renderChart(main.timeline, `Stadium surge: ${main.entries} entries in ${main.seconds} s over ${main.lanes} lanes${withHostile ? ', hostile traffic on' : ''}`));
  }
  const reference = withHostile && options.compare !== false ? await sim(clean) : undefined;
  const more: Array<[SimulationSummary, SimulationSummary]> = [];
  if (reference) for (let i = 1; i < pairs; i++) more.push([await sim(base), await sim(clean)]);
  return {
    ...figures(main),
    hostile: withHostile,
    gateway_build: gateway.kind,
    ...(gateway.note ? { gateway_build_note: gateway.note } : {}),
    ...(reference
      ? {
          lane_p99_ms_clean: reference.lane_p99_ms,
          lane_p99_change_pct: Number((((main.lane_p99_ms - reference.lane_p99_ms) / reference.lane_p99_ms) * 100).toFixed(1)),
          // The issue's "the rest of the venue must not notice": the lanes hostile traffic does not hit directly.
          lane_p99_ms_rest_of_venue: main.lane_p99_ms_rest_of_venue,
          rest_of_venue_lane_p99_change_pct: Number((((main.lane_p99_ms_rest_of_venue - reference.lane_p99_ms) / reference.lane_p99_ms) * 100).toFixed(1)),
          clean: figures(reference),
        }
      : {}),
    ...(reference && pairs > 1 ? { pairs: pairSummary([[main, reference], ...more]) } : {}),
    detail: main,
    // The clean run's own detail (per-second timeline, slowest lanes), to tell which run a difference came from.
    ...(reference ? { detail_clean: reference } : {}),
  };
}

/** The issue's figures, in its order. */
export function figures(s: SimulationSummary): Record<string, unknown> {
  return {
    entries: s.entries,
    seconds: s.seconds,
    lanes: s.lanes,
    decisions_per_s: s.decisions_per_s,
    decision_p99_ms: s.decision_p99_ms,
    lane_p99_ms: s.lane_p99_ms,
    central_lag_p95_ms: s.central_lag_p95_ms,
    central_lag_p95_ms_outside_outage: s.central_lag_p95_ms_outside_outage,
    lost: s.lost,
    duplicates_at_central: s.duplicates_at_central,
    rss_mb: s.rss_mb,
    cpu_pct: s.cpu_pct,
  };
}

/**
 * The hostile/clean comparison over several pairs: one run's p99 moves with
 * the machine by more than the 20 % the issue allows, so the answer to "does
 * the rest of the venue notice" is the interval, not one pair. Every run's
 * own figures are kept, and the worst of each target across all of them.
 */
export function pairSummary(runs: ReadonlyArray<readonly [SimulationSummary, SimulationSummary]>): Record<string, unknown> {
  const hostile = runs.map(([h]) => h.lane_p99_ms_rest_of_venue);
  const clean = runs.map(([, c]) => c.lane_p99_ms);
  const r = pairedRatio(hostile, clean);
  const all = runs.flat();
  return {
    n: r.n,
    lane_p99_ms_rest_of_venue: hostile,
    lane_p99_ms_clean: clean,
    rest_of_venue_lane_p99_change_pct: hostile.map((h, i) => Number((((h - clean[i]!) / clean[i]!) * 100).toFixed(1))),
    /** Geometric mean of hostile/clean and its 95 % interval (null with one pair). */
    ratio: round3(r.geomean),
    ratio_95ci: [round3(r.low), round3(r.high)],
    /** The whole interval inside 0.8-1.2: the hostile traffic moves the rest of the venue's lane p99 by less than 20 %. */
    within_20pct: r.low !== undefined && r.high !== undefined && r.low >= 0.8 && r.high <= 1.2,
    /**
     * The interval's upper end at most 1.2: a slowdown of the rest of the venue by more than 20 % is
     * excluded. It can hold where `within_20pct` does not: when the hostile runs were the faster ones.
     */
    slowdown_over_20pct_excluded: r.high !== undefined && r.high <= 1.2,
    lane_p99_ms_max: Math.max(...all.map((s) => s.lane_p99_ms)),
    decision_p99_ms_max: Math.max(...all.map((s) => s.decision_p99_ms)),
    lost_total: all.reduce((n, s) => n + s.lost, 0),
    duplicates_total: all.reduce((n, s) => n + s.duplicates_at_central, 0),
    rss_mb_max: Math.max(...all.map((s) => s.rss_mb)),
    /** Each pair's CPU stolen by the host, [hostile, clean] (%): a pair whose runs differ here ran on two different machines, in effect. */
    steal_pct: runs.map(([h, c]) => [h.steal_pct, c.steal_pct]),
    /** Each pair's simulator CPU, [hostile, clean] (% of a core): the same work in both runs, so it follows the machine's speed. */
    simulator_cpu_pct: runs.map(([h, c]) => [h.simulator_cpu_pct, c.simulator_cpu_pct]),
    ...machineSpeed(runs),
    runs: runs.map(([h, c]) => ({ hostile: runDetail(h), clean: runDetail(c) })),
  };
}

const round3 = (n: number | undefined) => (n === undefined ? null : Number(n.toFixed(3)));

/** How far the simulator's CPU may differ between a pair's two runs before the pair is named as drifted (fraction). */
export const MACHINE_DRIFT = 0.1;

/**
 * The comparison at equal machine speed.
 *
 * The simulator does the same work in a hostile run as in a clean one, so its
 * CPU seconds read the machine's speed: in the sixth session's nine steady
 * pairs its two runs differed by -3.6 to +4.1 % (+0.8 % on average), while
 * the two pairs that changed by +81 % and +89 % had it 29 % and 18 % busier in
 * the hostile run. Over that session's 16 pairs the simulator's change
 * explained 79 % of the variance of the lane p99 change (a 10 % slower
 * machine, ~35 % higher p99: the gateway is near saturation). Such pairs
 * compare two machines as much as two kinds of traffic.
 *
 * `machine_adjusted` takes the machine's part out by regression
 * (adjustedRatio) instead of dropping pairs; `machine_drift_pairs` names the
 * pairs it matters most for. Both are reported next to the plain `ratio`,
 * never instead of it. The adjustment would hide part of a real effect if the
 * hostile traffic itself made the simulator busier (it does not by more than
 * the steady pairs' spread).
 */
function machineSpeed(runs: ReadonlyArray<readonly [SimulationSummary, SimulationSummary]>): Record<string, unknown> {
  const drifted = (h: SimulationSummary, c: SimulationSummary) => Math.abs(h.simulator_cpu_pct / c.simulator_cpu_pct - 1) > MACHINE_DRIFT;
  const measured = runs.every(([h, c]) => h.simulator_cpu_pct > 0 && c.simulator_cpu_pct > 0);
  const r = measured
    ? adjustedRatio(
        runs.map(([h]) => h.lane_p99_ms_rest_of_venue),
        runs.map(([, c]) => c.lane_p99_ms),
        runs.map(([h]) => h.simulator_cpu_pct),
        runs.map(([, c]) => c.simulator_cpu_pct),
      )
    : undefined;
  return {
    /** Pairs (numbered from 1) whose simulator CPU differs by more than MACHINE_DRIFT between their runs. */
    machine_drift_pairs: measured ? runs.flatMap(([h, c], i) => (drifted(h, c) ? [i + 1] : [])) : null,
    /** hostile/clean where the simulator's CPU is equal in both runs, with its interval (null with fewer than three pairs). */
    machine_adjusted:
      r?.low !== undefined
        ? { ratio: round3(r.geomean), ratio_95ci: [round3(r.low), round3(r.high)], slope: round3(r.slope), r2: round3(r.r2), slowdown_over_20pct_excluded: r.high !== undefined && r.high <= 1.2 }
        : null,
  };
}

/**
 * One run of a pair, with enough to tell where its time went: its figures, the
 * gateway's errors, and its per-second timeline (lane p99, gateway CPU and
 * loop delay, stolen CPU). A pair that differs by 50 % shows whether every
 * second was slower or a few, and whether the host or the gateway was busier.
 */
export function runDetail(s: SimulationSummary): Record<string, unknown> {
  return {
    ...figures(s),
    lane_p99_ms_rest_of_venue: s.lane_p99_ms_rest_of_venue,
    simulator_cpu_pct: s.simulator_cpu_pct,
    steal_pct: s.steal_pct,
    gateway_loop_p99_ms: s.gateway_loop_p99_ms,
    gateway_errors: s.gateway_errors,
    slowest_lanes: s.slowest_lanes.slice(0, 3),
    timeline: s.timeline.map((p) => ({ t: p.t, lane_p99_ms: p.lane_p99_ms, gateway_cpu_pct: p.gateway_cpu_pct, simulator_cpu_pct: p.simulator_cpu_pct, gateway_loop_p99_ms: p.gateway_loop_p99_ms, gateway_loop_busy_pct: p.gateway_loop_busy_pct, steal_pct: p.steal_pct })),
  };
}

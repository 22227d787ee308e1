import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../gateway/core/log.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { startCentralStandIn, type CentralStandIn } from '../central/index.js';
import { createPtyPair, type PtyPair } from '../../test/helpers/pty.js';
import { makeCrowd, preOpeningHolders, type Crowd } from './crowd.js';
import type { Scenario } from './scenario.js';
import { makeSimVenue, type EntryLane, type SimVenue } from './venue.js';
import { histogramQuantile, machineTicks, percentile, processUsage, stealPct, scrape, startGatewayChild, waitFor, type GatewayChild, type Scrape } from './child.js';
import { connectNetworkEnds, openSerialEnds, osdpExchanges, type Cleanups, type DeviceEnds } from './devices.js';
import { addSerialCredentials, LaneTimer } from './lanes.js';
import { round, RunMeter, type TimelinePoint } from './meter.js';
import { startVenueLife, type VenueLife } from './venue-life.js';

export type { TimelinePoint } from './meter.js';

export interface SimulationOptions {
  /** The operator's venue config (e.g. config/examples/stadium.yaml). */
  venueFile: string;
  scenario: Scenario;
  /** Live progress lines (one a second) go here; none when unset. */
  progress?: NodeJS.WritableStream;
  log?: Logger;
  /** Keep the run directory (generated config, data, keys) for inspection. */
  keepDir?: boolean;
  /** The `gatehouse` executable to run (default: this checkout's bin/gatehouse.js), e.g. an installed build to compare. */
  gatewayBin?: string;
  /** Aborting ends the arrivals early; the run still drains and reports on what was presented. */
  signal?: AbortSignal;
}

export interface SimulationSummary {
  scenario: string;
  seed: number;
  entries: number;
  /** Cards presented on the MQTT gates before the run (scenario `preOpening`); in no other figure. */
  pre_opening_entries: number;
  seconds: number;
  lanes: number;
  lanes_by_transport: Record<string, number>;
  decisions: number;
  granted: number;
  denied: number;
  /** Presented credentials whose decision never came back to the device (reader offline, timeouts). */
  unanswered: number;
  /** Presented credentials the gateway never decided on (e.g. a serial frame spoilt by line noise). */
  undecided: number;
  /** Answers that differ from what the crowd model expected (e.g. a passback attempt that raced its own entry). */
  unexpected: number;
  decisions_per_s: number;
  decision_p99_ms: number;
  lane_p50_ms: number;
  lane_p99_ms: number;
  lane_p99_ms_by_transport: Record<string, number>;
  /**
   * Lane p99 of the rest of the venue: every timed lane except those the
   * hostile traffic hits directly (the reader taken offline, whose waiting
   * cards are answered only when it returns). Equal to `lane_p99_ms` without hostile traffic.
   */
  lane_p99_ms_rest_of_venue: number;
  /** The lanes left out of `lane_p99_ms_rest_of_venue`. */
  hostile_lanes: string[];
  central_lag_p95_ms: number;
  /** The same for events made while central was up (equal to the above without a central outage). */
  central_lag_p95_ms_outside_outage: number;
  access_events_at_central: number;
  events_at_central: number;
  lost: number;
  duplicates_at_central: number;
  rss_mb: number;
  cpu_pct: number;
  /** CPU of the simulator process itself over the same span (it shares the machine with the gateway). */
  simulator_cpu_pct: number;
  /** Share of the machine's CPU stolen by the hypervisor over the run (%, -1 where unknown). */
  steal_pct: number;
  /** The lanes with the highest p99 (where to look first). */
  slowest_lanes: Array<{ lane: string; p99_ms: number; count: number }>;
  /** Commands the simulated OSDP readers answered, per bus and second (the line's capacity is the lane latency's ceiling). */
  osdp_exchanges_per_s_per_bus: number;
  /** Worst one-second event-loop delay p99 of the gateway and of the simulator (a busy loop delays every serial exchange). */
  gateway_loop_p99_ms: number;
  simulator_loop_p99_ms: number;
  /** Content messages the simulated signs received (and acknowledged) from the gateway's rules. */
  sign_contents: number;
  /** Background venue life sent during the run. */
  beacon_adverts: number;
  kiosk_interactions: number;
  app_sightings: number;
  gateway_errors: Record<string, number>;
  skipped_devices: Array<{ device: string; reason: string }>;
  timeline: TimelinePoint[];
}

/**
 * Runs a scenario against a real gateway child process: starts the central
 * stand-in with the crowd's entitlements, generates the venue's simulation
 * twin, starts `gatehouse run` on it, drives every reader, kiosk, sign and
 * radio from outside through their real transports, drains the uplink, and
 * measures the run.
 */
export async function runSimulation(opts: SimulationOptions): Promise<SimulationSummary> {
  const log = opts.log ?? silentLogger();
  const dir = mkdtempSync(join(tmpdir(), 'gh-sim-'));
  const cleanups: Cleanups = [];
  let child: GatewayChild | undefined;
  try {
    const setup = await setUp(opts, dir, cleanups);
    const { venue, crowd, preOpening } = setup;
    child = startGatewayChild(venue.configFile, 'warn', opts.gatewayBin);
    await waitForEntitlements(venue.adminUrl, crowd.holders.length + preOpening.holders.length, child);
    const ends: DeviceEnds = { ...setup.serialEnds, ...(await connectNetworkEnds(venue, cleanups)) };
    await waitFor(
      () => [...ends.osdp.values()].every(({ sim }) => [...sim.received.values()].every((n) => n >= 5) && sim.received.size > 0),
      60_000,
      'every simulated OSDP reader to be polled',
    );
    await presentPreOpening(setup, ends);
    await waitForCalmGateway(venue.adminUrl, log);
    return await runCrowd(setup, ends, child, cleanups);
  } finally {
    if (child) await child.stop();
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** What a run is set up with before its gateway starts. */
interface RunSetup {
  opts: SimulationOptions;
  central: CentralStandIn;
  venue: SimVenue;
  crowd: Crowd;
  /** The run's entry lanes (those the scenario weighs above zero); an arrival's `lane` indexes this. */
  lanes: EntryLane[];
  preOpening: ReturnType<typeof preOpeningHolders>;
  /** The MQTT gates, where the pre-opening presents its cards. */
  mqttLanes: EntryLane[];
  serialEnds: Pick<DeviceEnds, 'osdp' | 'serial'>;
  /** Central calls `onEvent` for every event it stores; set once the crowd starts, so each access event is timed then. */
  centralHook: { onEvent?: (event: CloudEvent) => void };
}

/** The central stand-in, the venue's simulation twin with its PTYs, the crowd and its entitlements, and the serial readers. */
async function setUp(opts: SimulationOptions, dir: string, cleanups: Cleanups): Promise<RunSetup> {
  const scenario = opts.scenario;
  const log = opts.log ?? silentLogger();
  const { privateKey } = generateKeyPairSync('ed25519');
  const token = randomBytes(24).toString('base64url');
  const ptys: PtyPair[] = [];
  const centralHook: RunSetup['centralHook'] = {};
  const central = await startCentralStandIn({
    token,
    signingKey: privateKey,
    log: log.child({ component: 'central-stand-in' }),
    // Counts and dedupe only: holding every event would grow this process (and its GC) all run long.
    keepEvents: false,
    onEvent: (event) => centralHook.onEvent?.(event),
  });
  cleanups.push(() => central.close());
  const venue = await makeSimVenue({
    venueFile: opts.venueFile,
    scenario,
    dir,
    centralUrl: central.url,
    signingKey: privateKey,
    centralToken: token,
    pty: async () => {
      const p = await createPtyPair();
      ptys.push(p);
      return { gateway: p.gateway, device: p.device, index: ptys.length - 1 };
    },
  });
  cleanups.push(() => Promise.all(ptys.map((p) => p.close())));
  const weightOf = (l: EntryLane) => scenario.laneWeights[l.transport] * (scenario.zoneWeights[l.zone] ?? 1);
  const lanes = venue.entryLanes.filter((l) => weightOf(l) > 0);
  const crowd = makeCrowd(scenario, lanes.map(weightOf), venue.zones);
  addSerialCredentials(crowd.holders, venue.serial);
  const mqttLanes = venue.entryLanes.filter((l) => l.transport === 'mqtt');
  const preOpening = preOpeningHolders(mqttLanes.length > 0 ? scenario.preOpening.entries : 0, venue.zones);
  central.setEntitlements([...crowd.holders, ...preOpening.holders]);
  const serialEnds = await openSerialEnds(venue, ptys, cleanups);
  return { opts, central, venue, crowd, lanes, preOpening, mqttLanes, serialEnds, centralHook };
}

async function waitForEntitlements(adminUrl: string, holders: number, gw: GatewayChild): Promise<void> {
  await waitFor(async () => (await fetch(`${adminUrl}/healthz`).catch(() => undefined)) !== undefined, 60_000, 'the gateway admin port');
  await waitFor(
    async () => {
      const st = (await (await fetch(`${adminUrl}/api/status`)).json()) as { entitlements?: { holders?: number } };
      return st.entitlements?.holders === holders;
    },
    180_000,
    `the gateway to load ${holders} entitlements`,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${gw.output()}`);
  });
}

/**
 * Before the gates open: the pre-opening cards on the MQTT gates, then an
 * empty outbox, so that nothing of it reaches central once the run counts
 * (scenario `preOpening`).
 */
async function presentPreOpening({ opts, venue, preOpening, mqttLanes }: RunSetup, ends: DeviceEnds): Promise<void> {
  const { credentials } = preOpening;
  if (credentials.length === 0) return;
  const gapMs = (opts.scenario.preOpening.seconds * 1000) / credentials.length;
  let answers = 0;
  const start = performance.now();
  for (const [i, value] of credentials.entries()) {
    const wait = start + i * gapMs - performance.now();
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
    void ends.mqtt
      .get(mqttLanes[i % mqttLanes.length]!.device)!
      .scan({ kind: 'card', value })
      .then(() => answers++);
  }
  await waitFor(() => answers === credentials.length, 60_000, `answers to the ${credentials.length} pre-opening cards`, 50);
  await waitFor(async () => (await scrape(venue.adminUrl)).outboxDepth === 0, 60_000, 'the outbox to drain after the pre-opening', 250);
}

/** Waits for the gateway's event loop to be calm for two scrapes in a row (at most 30 s), so the crowd starts on a settled gateway. */
async function waitForCalmGateway(adminUrl: string, log: Logger): Promise<void> {
  let calm = 0;
  await scrape(adminUrl);
  await waitFor(
    async () => {
      await new Promise((r) => setTimeout(r, 1000));
      const lag = (await scrape(adminUrl)).loopLagP99;
      calm = Number.isFinite(lag) && lag < 0.05 ? calm + 1 : 0;
      return calm >= 2;
    },
    30_000,
    'the gateway to settle',
    0,
  ).catch(() => log.warn('the gateway event loop did not settle within 30 s; starting the crowd anyway'));
}

/** The measured run: the crowd's arrivals with the venue's life around them, then the answers and the uplink's drain. */
async function runCrowd(setup: RunSetup, ends: DeviceEnds, gw: GatewayChild, cleanups: Cleanups): Promise<SimulationSummary> {
  const { opts, venue, central, crowd, lanes } = setup;
  const centralBefore = central.counts();
  const first = await scrape(venue.adminUrl);
  const usage0 = processUsage(gw.pid);
  const ownCpu0 = process.cpuUsage();
  const machine0 = machineTicks();
  const osdpExchanges0 = osdpExchanges(ends.osdp);
  const t0 = performance.now();
  const timer = new LaneTimer(ends, lanes, t0);
  const entered = crowd.holders.filter((h) => !h.blocked && h.validUntil !== undefined && Date.parse(h.validUntil) > Date.now()).map((h) => h.holder);
  const life = startVenueLife({ scenario: opts.scenario, venue, ends, central, lanes, entered });
  cleanups.push(() => life.stop());
  const meter = new RunMeter({ adminUrl: venue.adminUrl, gatewayPid: gw.pid, lanes: timer, t0, first, ...(opts.progress ? { progress: opts.progress } : {}) });
  setup.centralHook.onEvent = (e) => meter.onCentralEvent(e);
  cleanups.push(() => {
    setup.centralHook.onEvent = undefined;
    meter.stop();
  });
  meter.start();

  const entries = await presentArrivals(crowd, lanes, timer, life, t0, opts.signal);
  const windowEnd = performance.now();
  // Answers still on the wire, then the uplink drain.
  // After Ctrl-C the serial lines are gone with socat: answers still on them never come.
  await waitFor(() => timer.outstanding.size === 0, opts.signal?.aborted ? 3000 : 15_000, 'the last decisions').catch(() => undefined);
  const afterWindow = await scrape(venue.adminUrl);
  await waitForDrain(venue.adminUrl, first, meter, opts.scenario.drainTimeoutS);
  meter.stop();
  const final = await scrape(venue.adminUrl);
  const end = performance.now();
  const usage1 = processUsage(gw.pid);
  const countsAll = central.counts();
  return summarise({
    setup,
    timer,
    meter,
    life,
    entries,
    seconds: (windowEnd - t0) / 1000,
    elapsedS: (end - t0) / 1000,
    scrapes: { first, afterWindow, final },
    // Less what central had before the crowd (the pre-opening's events).
    centralCounts: { unique: countsAll.unique - centralBefore.unique, duplicates: countsAll.duplicates - centralBefore.duplicates },
    usage: { before: usage0, after: usage1 },
    simulatorCpuS: cpuSeconds(process.cpuUsage(ownCpu0)),
    stealPct: stealPct(machine0, machineTicks()),
    osdpExchanges: osdpExchanges(ends.osdp) - osdpExchanges0,
    signContents: venue.mqtt.filter((d) => d.type === 'sign').reduce((n, d) => n + (ends.mqtt.get(d.id)?.contents.length ?? 0), 0),
  });
}

/** Presents every arrival at its time (an offline reader's arrivals walk on to the next lane); resolves with how many were presented. */
function presentArrivals(crowd: Crowd, lanes: readonly EntryLane[], timer: LaneTimer, life: VenueLife, t0: number, signal: AbortSignal | undefined): Promise<number> {
  let next = 0;
  const arrivals = crowd.arrivals;
  return new Promise<number>((resolve) => {
    const pump = () => {
      const elapsed = performance.now() - t0;
      while (next < arrivals.length && arrivals[next]!.atMs <= elapsed) {
        const a = arrivals[next++]!;
        let lane = a.lane;
        while (life.offlineLanes.has(lane)) lane = (lane + 1) % lanes.length;
        timer.present(lanes[lane]!, lane === a.lane ? a : { ...a, lane });
      }
      if (next >= arrivals.length || signal?.aborted) resolve(next);
      else setTimeout(pump, Math.min(5, Math.max(0, arrivals[next]!.atMs - elapsed)));
    };
    pump();
  });
}

/**
 * Drained = every decision so far is at central and no new decision came in
 * for a second (a serial frame has no answer to wait for, so its decision can
 * trail the window).
 */
async function waitForDrain(adminUrl: string, first: Scrape, meter: RunMeter, timeoutS: number): Promise<void> {
  let settled = 0;
  let lastDecisions = -1;
  await waitFor(
    async () => {
      const s = await scrape(adminUrl);
      const drained = s.outboxDepth === 0 && meter.lags.length >= s.decisions - first.decisions && s.decisions === lastDecisions;
      lastDecisions = s.decisions;
      settled = drained ? settled + 1 : 0;
      return settled >= 5;
    },
    timeoutS * 1000,
    'the outbox to drain to central',
    200,
  ).catch(() => undefined);
}

interface RunFacts {
  setup: RunSetup;
  timer: LaneTimer;
  meter: RunMeter;
  life: VenueLife;
  /** Arrivals presented. */
  entries: number;
  /** The arrival window, and the whole measured span up to the end of the drain. */
  seconds: number;
  elapsedS: number;
  scrapes: { first: Scrape; afterWindow: Scrape; final: Scrape };
  centralCounts: { unique: number; duplicates: number };
  usage: { before: ReturnType<typeof processUsage>; after: ReturnType<typeof processUsage> };
  simulatorCpuS: number;
  stealPct: number;
  osdpExchanges: number;
  signContents: number;
}

function summarise(f: RunFacts): SimulationSummary {
  const { setup, timer, meter, life, scrapes } = f;
  const { scenario } = setup.opts;
  const { first, afterWindow, final } = scrapes;
  const timeline = meter.timeline;
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const all = sorted(timer.latencies.map((l) => l.ms));
  const hostileLanes = life.offlineReader ? [life.offlineReader.id] : [];
  const rest = sorted(timer.latencies.filter((l) => !hostileLanes.includes(l.lane)).map((l) => l.ms));
  const byTransport: Record<string, number> = {};
  const lanesByTransport: Record<string, number> = {};
  for (const l of setup.lanes) lanesByTransport[l.transport] = (lanesByTransport[l.transport] ?? 0) + 1;
  for (const tr of Object.keys(lanesByTransport)) {
    const xs = sorted(timer.latencies.filter((l) => l.transport === tr).map((l) => l.ms));
    if (xs.length > 0) byTransport[tr] = round(percentile(xs, 0.99), 1);
  }
  const decisions = final.decisions - first.decisions;
  const { outage } = life;
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(final.errors)) if (n - (first.errors[code] ?? 0) > 0) errors[code] = n - (first.errors[code] ?? 0);
  const { before: usage0, after: usage1 } = f.usage;
  return {
    scenario: scenario.name,
    seed: scenario.seed,
    entries: f.entries,
    pre_opening_entries: setup.preOpening.credentials.length,
    seconds: round(f.seconds, 1),
    lanes: setup.lanes.length,
    lanes_by_transport: lanesByTransport,
    decisions,
    granted: timer.granted,
    denied: timer.denied,
    unanswered: timer.outstanding.size,
    undecided: Math.max(0, f.entries - decisions),
    unexpected: timer.unexpected,
    decisions_per_s: round((afterWindow.decisions - first.decisions) / f.seconds, 1),
    decision_p99_ms: round(histogramQuantile(0.99, first.buckets, afterWindow.buckets) * 1000, 3),
    lane_p50_ms: round(percentile(all, 0.5), 1),
    lane_p99_ms: round(percentile(all, 0.99), 1),
    lane_p99_ms_by_transport: byTransport,
    lane_p99_ms_rest_of_venue: round(percentile(rest, 0.99), 1),
    hostile_lanes: hostileLanes,
    central_lag_p95_ms: round(percentile(sorted(meter.lags.map((l) => l.ms)), 0.95), 0),
    central_lag_p95_ms_outside_outage: round(
      percentile(sorted(meter.lags.filter((l) => outage.from === undefined || l.time < outage.from || l.time > (outage.to ?? Infinity)).map((l) => l.ms)), 0.95),
      0,
    ),
    access_events_at_central: meter.lags.length,
    events_at_central: f.centralCounts.unique,
    lost: Math.max(0, decisions - meter.lags.length),
    duplicates_at_central: f.centralCounts.duplicates,
    rss_mb: round(usage1?.rssMb ?? NaN, 1),
    cpu_pct: usage0 && usage1 ? round(((usage1.cpuS - usage0.cpuS) / f.elapsedS) * 100, 1) : -1,
    simulator_cpu_pct: round((f.simulatorCpuS / f.elapsedS) * 100, 1),
    steal_pct: f.stealPct,
    slowest_lanes: slowestLanes(timer.latencies, 5),
    osdp_exchanges_per_s_per_bus: setup.serialEnds.osdp.size === 0 ? 0 : round(f.osdpExchanges / setup.serialEnds.osdp.size / f.elapsedS, 0),
    gateway_loop_p99_ms: Math.max(...timeline.map((p) => p.gateway_loop_p99_ms), -1),
    simulator_loop_p99_ms: Math.max(...timeline.map((p) => p.simulator_loop_p99_ms), -1),
    sign_contents: f.signContents,
    beacon_adverts: life.advertsSent,
    kiosk_interactions: life.interactionsSent,
    app_sightings: life.sightingsSent,
    gateway_errors: errors,
    skipped_devices: setup.venue.skipped,
    timeline,
  };
}

function slowestLanes(xs: ReadonlyArray<{ lane: string; ms: number }>, n: number): Array<{ lane: string; p99_ms: number; count: number }> {
  const by = new Map<string, number[]>();
  for (const x of xs) {
    const l = by.get(x.lane) ?? [];
    by.set(x.lane, l);
    l.push(x.ms);
  }
  return [...by]
    .map(([lane, ms]) => ({ lane, p99_ms: round(percentile(ms.sort((a, b) => a - b), 0.99), 1), count: ms.length }))
    .sort((a, b) => b.p99_ms - a.p99_ms)
    .slice(0, n);
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

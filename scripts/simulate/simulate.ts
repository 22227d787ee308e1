import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { openSerialTransport, type Transport as SerialTransport } from '../../drivers/serial/transport.js';
import { OsdpSimulator, type SimFeedback } from '../../drivers/osdp/sim.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import { cardPulses, socketScript } from '../../drivers/wiegand/sim.js';
import { encodeSerialFrame, simulatedSerialReader } from '../../drivers/serial-reader/sim.js';
import { decodeSerialFrames } from '../../drivers/serial-reader/decode.js';
import type { SerialFraming } from '../../drivers/serial-reader/config.js';
import type { EntitlementRecord } from '../../gateway/access/model.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { connectSimDevice, type SimDevice } from '../../drivers/mqtt/sim.js';
import { SimulatedAdvertiser, type SimulatedBeacon } from '../../drivers/ble/sim.js';
import { silentLogger, type Logger } from '../../gateway/core/log.js';
import { startCentralStandIn } from '../central/index.js';
import { createPtyPair, type PtyPair } from '../../test/helpers/pty.js';
import { makeCrowd, preOpeningHolders, seededRandom, type Arrival } from './crowd.js';
import type { Scenario } from './scenario.js';
import { makeSimVenue, type EntryLane, type Transport } from './venue.js';
import { histogramQuantile, machineTicks, percentile, processUsage, stealPct, scrape, startGatewayChild, waitFor, type GatewayChild, type Scrape } from './child.js';

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

/** One second of the run, for the live line and the chart. */
export interface TimelinePoint {
  t: number;
  decisions_per_s: number;
  lane_p99_ms: number;
  decision_p99_ms: number;
  outbox_depth: number;
  central_lag_p95_ms: number;
  gateway_loop_p99_ms: number;
  simulator_loop_p99_ms: number;
  /** The gateway process's CPU in this second, % of one core (-1 where /proc is unreadable). */
  gateway_cpu_pct: number;
  /** Share of the machine's CPU the hypervisor gave to other guests in this second (%): a slower machine, not a slower gateway. */
  steal_pct: number;
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

interface Pending {
  arrival: Arrival;
  at: number;
}

const ACCESS_TYPE = /^io\.gatehouse\.access\./;
const round = (n: number, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : -1);

/**
 * Runs a scenario against a real gateway child process: starts the central
 * stand-in with the crowd's entitlements, generates the venue's simulation
 * twin, starts `gatehouse run` on it, drives every reader, kiosk, sign and
 * radio from outside through their real transports, drains the uplink, and
 * measures the run.
 */
export async function runSimulation(opts: SimulationOptions): Promise<SimulationSummary> {
  const scenario = opts.scenario;
  const log = opts.log ?? silentLogger();
  const dir = mkdtempSync(join(tmpdir(), 'gh-sim-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const ptys: PtyPair[] = [];
  let child: GatewayChild | undefined;
  try {
    const { privateKey } = generateKeyPairSync('ed25519');
    const token = randomBytes(24).toString('base64url');
    // Set once the crowd starts: each access event is timed the moment central stores it.
    let onCentralEvent: ((event: CloudEvent) => void) | undefined;
    const central = await startCentralStandIn({
      token,
      signingKey: privateKey,
      log: log.child({ component: 'central-stand-in' }),
      // Counts and dedupe only: holding every event would grow this process (and its GC) all run long.
      keepEvents: false,
      onEvent: (event) => onCentralEvent?.(event),
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

    // Device ends that exist before the gateway: OSDP and serial readers on their PTYs.
    const osdp = new Map<string, { sim: OsdpSimulator; transport: SerialTransport }>();
    for (const bus of venue.osdp) {
      const transport = await openSerialTransport({ path: ptys[bus.deviceEnd]!.device, baudRate: bus.baudRate });
      const sim = new OsdpSimulator({ transport, baudRate: bus.baudRate, readers: bus.readers.map((r) => ({ address: r.address, ...(r.scbk ? { scbk: r.scbk } : {}) })) });
      osdp.set(bus.device, { sim, transport });
      cleanups.push(async () => {
        sim.close();
        await transport.close();
      });
    }
    const serial = new Map<string, ReturnType<typeof simulatedSerialReader>>();
    for (const s of venue.serial) {
      const transport = await openSerialTransport({ path: ptys[s.deviceEnd]!.device, baudRate: s.baudRate });
      serial.set(s.device, simulatedSerialReader(transport, s.framing));
      cleanups.push(() => transport.close());
    }

    child = startGatewayChild(venue.configFile, 'warn', opts.gatewayBin);
    const gw = child;
    await waitFor(async () => (await fetch(`${venue.adminUrl}/healthz`).catch(() => undefined)) !== undefined, 60_000, 'the gateway admin port');
    await waitFor(
      async () => {
        const st = (await (await fetch(`${venue.adminUrl}/api/status`)).json()) as { entitlements?: { holders?: number } };
        return st.entitlements?.holders === crowd.holders.length + preOpening.holders.length;
      },
      180_000,
      `the gateway to load ${crowd.holders.length + preOpening.holders.length} entitlements`,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${gw.output()}`);
    });

    // Device ends that connect to the gateway: MQTT clients and socket lines.
    const mqtt = new Map<string, SimDevice>();
    for (const d of venue.mqtt) {
      const dev = await connectSimDevice({ url: venue.brokerUrl, gatewayId: venue.gatewayId, id: d.id, type: d.type, password: d.password });
      mqtt.set(d.id, dev);
      cleanups.push(() => dev.client.endAsync(true));
    }
    const wiegand = new Map<string, { socket: Socket; pending: Pending[]; active: Map<string, string> }>();
    for (const w of venue.wiegand) {
      const socket = await connectUnix(w.socket);
      const lane = { socket, pending: [] as Pending[], active: new Map<string, string>() };
      wiegand.set(w.device, lane);
      cleanups.push(() => socket.destroy());
    }
    const adverts: SimulatedAdvertiser[] = [];
    for (const b of venue.ble) {
      const a = await SimulatedAdvertiser.connect(b.socket);
      adverts.push(a);
      cleanups.push(() => a.close());
    }
    for (const g of venue.gpio) {
      // Turnstile I/O: the simulator only listens (relay outputs); rotation sensors stay idle.
      const socket = await connectUnix(g.socket);
      cleanups.push(() => socket.destroy());
    }
    await waitFor(
      () => [...osdp.values()].every(({ sim }) => [...sim.received.values()].every((n) => n >= 5) && sim.received.size > 0),
      60_000,
      'every simulated OSDP reader to be polled',
    );

    // Before the gates open: the pre-opening cards on the MQTT gates, then an empty outbox, so that
    // nothing of it reaches central once the run counts (scenario `preOpening`).
    if (preOpening.credentials.length > 0) {
      const gapMs = (scenario.preOpening.seconds * 1000) / preOpening.credentials.length;
      let answers = 0;
      const start = performance.now();
      for (const [i, value] of preOpening.credentials.entries()) {
        const wait = start + i * gapMs - performance.now();
        if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
        void mqtt
          .get(mqttLanes[i % mqttLanes.length]!.device)!
          .scan({ kind: 'card', value })
          .then(() => answers++);
      }
      await waitFor(() => answers === preOpening.credentials.length, 60_000, `answers to the ${preOpening.credentials.length} pre-opening cards`, 50);
      await waitFor(async () => (await scrape(venue.adminUrl)).outboxDepth === 0, 60_000, 'the outbox to drain after the pre-opening', 250);
    }

    // Start the crowd on a settled gateway: its event loop calm for two scrapes in a row (at most 30 s).
    let calm = 0;
    await scrape(venue.adminUrl);
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const lag = (await scrape(venue.adminUrl)).loopLagP99;
        calm = Number.isFinite(lag) && lag < 0.05 ? calm + 1 : 0;
        return calm >= 2;
      },
      30_000,
      'the gateway to settle',
      0,
    ).catch(() => log.warn('the gateway event loop did not settle within 30 s; starting the crowd anyway'));

    // --- measurement state ---
    const laneLatencies: Array<{ transport: Transport; lane: string; ms: number }> = [];
    // The same by second of presentation, for the live line (no scan of the whole run each second).
    const laneBySecond: number[][] = [];
    let answered = 0;
    let unexpected = 0;
    let granted = 0;
    let denied = 0;
    const outstanding = new Set<Pending>();
    const t0 = performance.now();
    const secondOf = (at: number) => Math.floor((at - t0) / 1000);
    const done = (p: Pending, transport: Transport, result: 'granted' | 'denied', at: number) => {
      if (!outstanding.delete(p)) return;
      answered++;
      if (result === 'granted') granted++;
      else denied++;
      if ((result === 'granted') !== (p.arrival.expect === 'valid')) unexpected++;
      const ms = at - p.at;
      laneLatencies.push({ transport, lane: lanes[p.arrival.lane]!.id, ms });
      (laneBySecond[secondOf(p.at)] ??= []).push(ms);
    };

    const osdpPending = new Map<string, Pending[]>();
    const osdpSawOut = new Set<string>();
    for (const [device, { sim }] of osdp) {
      sim.on('feedback', (f: SimFeedback) => {
        const key = `${device}/${f.address}`;
        // OSDP feedback for a grant is OUT then LED; for a denial LED alone (drivers/osdp/driver.ts).
        if (f.command === 'OUT') {
          const p = osdpPending.get(key)?.shift();
          if (p) done(p, 'osdp', 'granted', f.at);
          osdpSawOut.add(key);
        } else if (f.command === 'LED') {
          if (osdpSawOut.delete(key)) return;
          const p = osdpPending.get(key)?.shift();
          const color = (f.detail as { color?: string }).color;
          if (p) done(p, 'osdp', color === 'green' || color === 'blue' || color === 'white' || color === 'cyan' ? 'granted' : 'denied', f.at);
        }
      });
    }
    for (const [, w] of wiegand) {
      let buffered = '';
      w.socket.setEncoding('utf8');
      w.socket.on('data', (text: string) => {
        const at = performance.now();
        buffered += text;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const m = /^out (\S+) ([01])$/.exec(line.trim());
          if (!m) continue;
          const [, name, level] = m as unknown as [string, string, string];
          // The first level seen after a card is the line's active level; its return to rest is not an answer.
          const active = w.active.get(name);
          if (active === undefined && w.pending.length === 0) {
            w.active.set(name, level === '1' ? '0' : '1');
            continue;
          }
          if (active === undefined) w.active.set(name, level);
          else if (active !== level) continue;
          const p = w.pending.shift();
          if (p) done(p, 'wiegand', name === 'buzzer' ? 'denied' : 'granted', at);
        }
      });
    }

    const present = (lane: EntryLane, arrival: Arrival) => {
      const p: Pending = { arrival, at: performance.now() };
      outstanding.add(p);
      switch (lane.transport) {
        case 'osdp': {
          const key = `${lane.device}/${lane.reader}`;
          const q = osdpPending.get(key) ?? [];
          osdpPending.set(key, q);
          q.push(p);
          osdp.get(lane.device)!.sim.presentCard(Number(lane.reader), encodeCard('H10301', arrival));
          break;
        }
        case 'mqtt': {
          void mqtt
            .get(lane.device)!
            .scan({ kind: 'card', value: arrival.credential })
            .then((d) => done(p, 'mqtt', d.result === 'granted' ? 'granted' : 'denied', performance.now()));
          break;
        }
        case 'wiegand': {
          const w = wiegand.get(lane.device)!;
          w.pending.push(p);
          w.socket.write(socketScript(cardPulses('H10301', arrival, { intervalMs: 1 }), { gapBeforeMs: 40 }));
          break;
        }
        case 'serial':
          // A simple serial reader has no way to show a decision: counted at the gateway and at central, not timed.
          outstanding.delete(p);
          answered++;
          void serial.get(lane.device)!.present(serialPayload(arrival));
          break;
      }
    };

    // --- background venue life: beacons, app sightings, kiosks, hostile traffic ---
    const rnd = seededRandom(scenario.seed ^ 0x5eed);
    let advertsSent = 0;
    let sightingsSent = 0;
    let interactionsSent = 0;
    const timers: NodeJS.Timeout[] = [];
    const every = (perSecond: number, fn: () => void) => {
      if (perSecond <= 0) return;
      // Ticks of at least 20 ms; several actions per tick at high rates.
      const tickMs = Math.max(20, 1000 / perSecond);
      let owed = 0;
      timers.push(
        setInterval(() => {
          owed += (perSecond * tickMs) / 1000;
          for (; owed >= 1; owed--) fn();
        }, tickMs),
      );
    };
    const beacons: SimulatedBeacon[] = venue.beacons.flatMap((b): SimulatedBeacon[] =>
      b.ibeacon ? [{ kind: 'ibeacon', ...b.ibeacon, measuredPower: -59 }] : b.eddystone ? [{ kind: 'eddystone-uid', namespace: b.eddystone.namespace, instance: b.eddystone.instance, txPower: -20 }] : [],
    );
    const entered = crowd.holders.filter((h) => !h.blocked && h.validUntil !== undefined && Date.parse(h.validUntil) > Date.now()).map((h) => h.holder);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    if (beacons.length > 0 && adverts.length > 0) {
      every(scenario.beacons.advertsPerSecond, () => {
        const mac = `c0:${Array.from({ length: 5 }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0')).join(':')}`;
        pick(adverts).advertise(pick(beacons), -50 - Math.floor(rnd() * 40), mac);
        advertsSent++;
      });
    }
    const apps = venue.mqtt.filter((d) => d.type === 'app').map((d) => mqtt.get(d.id)!);
    if (apps.length > 0 && venue.beacons.length > 0 && entered.length > 0) {
      every(scenario.beacons.appSightingsPerSecond, () => {
        sightingsSent++;
        void pick(apps).sighting(pick(venue.beacons).id, -55 - Math.floor(rnd() * 30), pick(entered)).catch(() => undefined);
      });
    }
    const kiosks = venue.mqtt.filter((d) => d.type === 'kiosk').map((d) => mqtt.get(d.id)!);
    if (kiosks.length > 0) {
      every(scenario.kiosks.interactionsPerSecond, () => {
        interactionsSent++;
        void pick(kiosks).interact(pick(['menu', 'shirt-home', 'shirt-away', 'scarf']), pick(['view', 'tap']), entered.length > 0 ? pick(entered) : undefined).catch(() => undefined);
      });
    }
    const windowMs = scenario.durationS * 1000;
    const hostile = scenario.hostile;
    if (hostile.kioskMalformedPerSecond > 0 && kiosks.length > 0) {
      const bad = kiosks[kiosks.length - 1]!;
      const topic = `gatehouse/${venue.gatewayId}/${venue.mqtt.filter((d) => d.type === 'kiosk').at(-1)!.id}/interaction`;
      every(hostile.kioskMalformedPerSecond, () => bad.client.publish(topic, '{"item": "menu", "action": ', { qos: 0 }));
    }
    if (hostile.serialGarbagePerSecond > 0 && serial.size > 0) {
      const line = [...serial.values()][0]!;
      every(hostile.serialGarbagePerSecond, () => void line.garbage(randomBytes(16)).catch(() => undefined));
    }
    const offlineReader = hostile.readerOfflineAt !== undefined ? lanes.find((l) => l.transport === 'osdp') : undefined;
    // People do not queue at a dead reader: while it is offline its arrivals walk to the next lane.
    const offlineLanes = new Set<number>();
    if (offlineReader && hostile.readerOfflineAt !== undefined) {
      const sim = osdp.get(offlineReader.device)!.sim;
      const index = lanes.indexOf(offlineReader);
      timers.push(
        setTimeout(() => {
          offlineLanes.add(index);
          sim.setSilent(Number(offlineReader.reader), true);
        }, hostile.readerOfflineAt * windowMs),
      );
      timers.push(
        setTimeout(() => {
          sim.setSilent(Number(offlineReader.reader), false);
          offlineLanes.delete(index);
        }, hostile.readerOfflineAt * windowMs + hostile.readerOfflineForS * 1000),
      );
    }
    const outage: { from?: number; to?: number } = {};
    if (hostile.centralDownAt !== undefined) {
      timers.push(
        setTimeout(() => {
          outage.from = Date.now();
          central.setFault({ kind: 'status', status: 503, scope: 'events' });
        }, hostile.centralDownAt * windowMs),
      );
      timers.push(
        setTimeout(() => {
          outage.to = Date.now();
          central.setFault(null);
        }, hostile.centralDownAt * windowMs + hostile.centralDownForS * 1000),
      );
    }
    cleanups.push(() => timers.forEach((t) => clearTimeout(t)));

    // --- central lag: when each access event shows up at the stand-in ---
    // (Polling a copy of central's whole store every 100 ms instead cost this process up to
    // tens of ms a time late in a run, which showed up as lane latency.)
    const lags: Array<{ ms: number; time: number }> = [];
    const lagsBySecond: number[][] = [];
    onCentralEvent = (e) => {
      if (!ACCESS_TYPE.test(e.type) || !e.time) return;
      const time = Date.parse(e.time);
      const ms = Date.now() - time;
      lags.push({ ms, time });
      (lagsBySecond[secondOf(performance.now())] ??= []).push(ms);
    };
    cleanups.push(() => {
      onCentralEvent = undefined;
    });

    // --- the arrival loop and the live line ---
    const centralBefore = central.counts();
    const first = await scrape(venue.adminUrl);
    const usage0 = processUsage(gw.pid);
    const ownCpu0 = process.cpuUsage();
    const machine0 = machineTicks();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    cleanups.push(() => loop.disable());
    const osdpExchanges0 = [...osdp.values()].reduce((n, { sim }) => n + [...sim.received.values()].reduce((a, b) => a + b, 0), 0);
    let last: Scrape = first;
    let lastAnswered = 0;
    const timeline: TimelinePoint[] = [];
    let lastUsage = usage0;
    let lastMachine = machine0;
    let lastTick = performance.now();
    const ticker = setInterval(() => {
      const usage = processUsage(gw.pid);
      const machine = machineTicks();
      const now = performance.now();
      const gatewayCpuPct = usage && lastUsage ? round(((usage.cpuS - lastUsage.cpuS) / ((now - lastTick) / 1000)) * 100, 0) : -1;
      const steal = stealPct(lastMachine, machine);
      lastUsage = usage;
      lastMachine = machine;
      lastTick = now;
      void scrape(venue.adminUrl)
        .then((s) => {
          const t = timeline.length + 1;
          const sec = [...(laneBySecond[t - 1] ?? [])].sort((a, b) => a - b);
          const lagSec = [...(lagsBySecond[t - 1] ?? [])].sort((a, b) => a - b);
          const point: TimelinePoint = {
            t,
            decisions_per_s: s.decisions - last.decisions,
            lane_p99_ms: round(percentile(sec, 0.99), 1),
            decision_p99_ms: round(histogramQuantile(0.99, last.buckets, s.buckets) * 1000, 3),
            outbox_depth: s.outboxDepth,
            central_lag_p95_ms: round(percentile(lagSec, 0.95), 0),
            gateway_loop_p99_ms: round(s.loopLagP99 * 1000, 1),
            simulator_loop_p99_ms: round(loop.percentile(99) / 1e6, 1),
            gateway_cpu_pct: gatewayCpuPct,
            steal_pct: steal,
          };
          loop.reset();
          timeline.push(point);
          last = s;
          opts.progress?.write(
            `t=${String(t).padStart(4)}s  decisions/s ${String(point.decisions_per_s).padStart(5)}  presented ${String(answered - lastAnswered).padStart(5)}/s  decision p99 ${point.decision_p99_ms.toFixed(3)} ms  lane p99 ${point.lane_p99_ms.toFixed(1)} ms  outbox ${String(point.outbox_depth).padStart(6)}  central lag p95 ${point.central_lag_p95_ms} ms  loop p99 gw ${point.gateway_loop_p99_ms} sim ${point.simulator_loop_p99_ms} ms\n`,
          );
          lastAnswered = answered;
        })
        .catch(() => undefined);
    }, 1000);
    cleanups.push(() => clearInterval(ticker));

    let next = 0;
    const arrivals = crowd.arrivals;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const elapsed = performance.now() - t0;
        while (next < arrivals.length && arrivals[next]!.atMs <= elapsed) {
          const a = arrivals[next++]!;
          let lane = a.lane;
          while (offlineLanes.has(lane)) lane = (lane + 1) % lanes.length;
          present(lanes[lane]!, lane === a.lane ? a : { ...a, lane });
        }
        if (next >= arrivals.length || opts.signal?.aborted) resolve();
        else setTimeout(pump, Math.min(5, Math.max(0, arrivals[next]!.atMs - elapsed)));
      };
      pump();
    });
    const windowEnd = performance.now();
    // Answers still on the wire, then the uplink drain.
    // After Ctrl-C the serial lines are gone with socat: answers still on them never come.
    await waitFor(() => outstanding.size === 0, opts.signal?.aborted ? 3000 : 15_000, 'the last decisions').catch(() => undefined);
    const afterWindow = await scrape(venue.adminUrl);
    // Drained = every decision so far is at central and no new decision came in for a second
    // (a serial frame has no answer to wait for, so its decision can trail the window).
    let settled = 0;
    let lastDecisions = -1;
    await waitFor(
      async () => {
        const s = await scrape(venue.adminUrl);
        const drained = s.outboxDepth === 0 && lags.length >= s.decisions - first.decisions && s.decisions === lastDecisions;
        lastDecisions = s.decisions;
        settled = drained ? settled + 1 : 0;
        return settled >= 5;
      },
      scenario.drainTimeoutS * 1000,
      'the outbox to drain to central',
      200,
    ).catch(() => undefined);
    clearInterval(ticker);
    const final = await scrape(venue.adminUrl);
    const usage1 = processUsage(gw.pid);
    const machine1 = machineTicks();
    const seconds = (windowEnd - t0) / 1000;

    // The live line could only count answers already back; the timeline gets every answer, by the second the card was presented.
    for (const p of timeline) p.lane_p99_ms = round(percentile([...(laneBySecond[p.t - 1] ?? [])].sort((a, b) => a - b), 0.99), 1);
    const all = laneLatencies.map((l) => l.ms).sort((a, b) => a - b);
    const hostileLanes = offlineReader ? [offlineReader.id] : [];
    const rest = laneLatencies.filter((l) => !hostileLanes.includes(l.lane)).map((l) => l.ms).sort((a, b) => a - b);
    const byTransport: Record<string, number> = {};
    const lanesByTransport: Record<string, number> = {};
    for (const l of lanes) lanesByTransport[l.transport] = (lanesByTransport[l.transport] ?? 0) + 1;
    for (const tr of Object.keys(lanesByTransport)) {
      const xs = laneLatencies.filter((l) => l.transport === tr).map((l) => l.ms).sort((a, b) => a - b);
      if (xs.length > 0) byTransport[tr] = round(percentile(xs, 0.99), 1);
    }
    const decisions = final.decisions - first.decisions;
    const accessAtCentral = lags.length;
    const countsAll = central.counts();
    // Less what central had before the crowd (the pre-opening's events).
    const counts = { unique: countsAll.unique - centralBefore.unique, duplicates: countsAll.duplicates - centralBefore.duplicates };
    const errors: Record<string, number> = {};
    for (const [code, n] of Object.entries(final.errors)) if (n - (first.errors[code] ?? 0) > 0) errors[code] = n - (first.errors[code] ?? 0);
    const summary: SimulationSummary = {
      scenario: scenario.name,
      seed: scenario.seed,
      entries: next,
      pre_opening_entries: preOpening.credentials.length,
      seconds: round(seconds, 1),
      lanes: lanes.length,
      lanes_by_transport: lanesByTransport,
      decisions,
      granted,
      denied,
      unanswered: outstanding.size,
      undecided: Math.max(0, next - decisions),
      unexpected,
      decisions_per_s: round((afterWindow.decisions - first.decisions) / seconds, 1),
      decision_p99_ms: round(histogramQuantile(0.99, first.buckets, afterWindow.buckets) * 1000, 3),
      lane_p50_ms: round(percentile(all, 0.5), 1),
      lane_p99_ms: round(percentile(all, 0.99), 1),
      lane_p99_ms_by_transport: byTransport,
      lane_p99_ms_rest_of_venue: round(percentile(rest, 0.99), 1),
      hostile_lanes: hostileLanes,
      central_lag_p95_ms: round(percentile(lags.map((l) => l.ms).sort((a, b) => a - b), 0.95), 0),
      central_lag_p95_ms_outside_outage: round(
        percentile(
          lags
            .filter((l) => outage.from === undefined || l.time < outage.from || l.time > (outage.to ?? Infinity))
            .map((l) => l.ms)
            .sort((a, b) => a - b),
          0.95,
        ),
        0,
      ),
      access_events_at_central: accessAtCentral,
      events_at_central: counts.unique,
      lost: Math.max(0, decisions - accessAtCentral),
      duplicates_at_central: counts.duplicates,
      rss_mb: round(usage1?.rssMb ?? NaN, 1),
      cpu_pct: usage0 && usage1 ? round(((usage1.cpuS - usage0.cpuS) / ((performance.now() - t0) / 1000)) * 100, 1) : -1,
      simulator_cpu_pct: round(((cpuSeconds(process.cpuUsage(ownCpu0))) / ((performance.now() - t0) / 1000)) * 100, 1),
      steal_pct: stealPct(machine0, machine1),
      slowest_lanes: slowestLanes(laneLatencies, 5),
      osdp_exchanges_per_s_per_bus:
        osdp.size === 0 ? 0 : round(([...osdp.values()].reduce((n, { sim }) => n + [...sim.received.values()].reduce((a, b) => a + b, 0), 0) - osdpExchanges0) / osdp.size / ((performance.now() - t0) / 1000), 0),
      gateway_loop_p99_ms: Math.max(...timeline.map((p) => p.gateway_loop_p99_ms), -1),
      simulator_loop_p99_ms: Math.max(...timeline.map((p) => p.simulator_loop_p99_ms), -1),
      sign_contents: venue.mqtt.filter((d) => d.type === 'sign').reduce((n, d) => n + (mqtt.get(d.id)?.contents.length ?? 0), 0),
      beacon_adverts: advertsSent,
      kiosk_interactions: interactionsSent,
      app_sightings: sightingsSent,
      gateway_errors: errors,
      skipped_devices: venue.skipped,
      timeline,
    };
    return summary;
  } finally {
    if (child) await child.stop();
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** What a serial scanner sends for a holder's card: digits only, so every payload encoding can carry it. */
export function serialPayload(card: { facility: number; card: number }): string {
  return String(card.facility * 100_000 + card.card);
}

/**
 * Gives every holder the credential each serial reader of the venue will
 * produce for its card (the reader's framing decides the value: hex of the
 * bytes, decimal, text), decoded with the driver's own decoder.
 */
export function addSerialCredentials(holders: EntitlementRecord[], readers: ReadonlyArray<{ framing: SerialFraming; kind: 'card' | 'barcode' }>): void {
  for (const h of holders) {
    const m = /^(\d+):(\d+)$/.exec(h.credentials[0]?.value ?? '');
    if (!m) continue;
    const payload = serialPayload({ facility: Number(m[1]), card: Number(m[2]) });
    for (const r of readers) {
      const frame = decodeSerialFrames(encodeSerialFrame(payload, r.framing), r.framing).frames[0];
      if (frame && !h.credentials.some((c) => c.kind === r.kind && c.value === frame.value)) h.credentials.push({ kind: r.kind, value: frame.value });
    }
  }
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

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}


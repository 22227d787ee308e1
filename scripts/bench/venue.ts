import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createAccessEngine, openEntitlementStore, type AccessEngine, type EntitlementStore } from '../../gateway/access/index.js';
import { laneSchema, zoneSchema } from '../../config/sections/access.js';
import { venueSchema } from '../../config/sections/venue.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Credential } from '../../gateway/core/types.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import { createVenueLink, venueConflictWindows, type VenueLink } from '../../sync/venue/index.js';
import { seededRandom as prng } from '../simulate/crowd.js';

/**
 * `gatehouse bench venue --json` (issue #11): three gateway processes sharing
 * anti-passback and occupancy through one real Mosquitto broker. Targets:
 * propagation p99 <= 100 ms, convergence <= 2,000 ms after a partition heals,
 * every conflict made during the partition reported (once), decision p99
 * within 20% of a gateway deciding alone.
 *
 * Each gateway process also holds a twin that decides alone (no venue link)
 * and is given the same decisions at the same moments, so the comparison sees
 * the same machine load. Which of the pair decides first alternates (the
 * second runs on warmer caches). The first `warmupS` seconds of the connected
 * phase are decided by both and measured by neither (JIT, first exits). The
 * p99 ratio comes with a 95% interval from a block bootstrap over the pairs
 * (blocks of consecutive decisions, as load bursts hit neighbours alike).
 *
 * Options: rate (decisions/s over all gateways, 300), seconds (measured
 * connected phase, 30: ~8,700 decisions, so the p99 rests on ~90 of them),
 * warmupS (2), partitionS (30), conflicts (made during the partition, 5),
 * mosquitto (binary, /usr/sbin/mosquitto).
 */
const num = (v: unknown, d: number): number => (v === undefined || v === '' || typeof v === 'boolean' || Number.isNaN(Number(v)) ? d : Number(v));
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const IDS = ['gw-a', 'gw-b', 'gw-c'];
const WORKER_ENV = 'GATEHOUSE_BENCH_VENUE_WORKER';

function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}


/**
 * 95% interval of p(a)/p(b) over paired samples (a[i] and b[i] decided in the
 * same slot), by a moving-block bootstrap: blocks of `block` consecutive pairs
 * are drawn with replacement, so bursts of machine load stay together.
 */
export function ratioInterval(a: number[], b: number[], p: number, rounds = 400, block = 100): [number, number] {
  const n = Math.min(a.length, b.length);
  if (n === 0) return [0, 0];
  const size = Math.min(block, n);
  const starts = n - size + 1;
  const random = prng(0x9e3779b9);
  const ra = new Float64Array(n);
  const rb = new Float64Array(n);
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < n; k += size) {
      const from = Math.floor(random() * starts);
      for (let j = 0; j < size && k + j < n; j++) {
        ra[k + j] = a[from + j]!;
        rb[k + j] = b[from + j]!;
      }
    }
    const pb = percentile(rb, p);
    ratios.push(pb === 0 ? 0 : percentile(ra, p) / pb);
  }
  return [percentile(ratios, 2.5), percentile(ratios, 97.5)];
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, stepMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`bench venue: timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------- the schedule

/** Where and what global decision slot `i` is; the same function in every process. */
interface Plan {
  rate: number;
  /** Warm-up and measured connected slots together. */
  connectedSlots: number;
  partitionSlots: number;
  conflicts: number;
  holders: number;
}

type Slot = { gateway: number; lane: 'in' | 'out'; holder: number; conflict?: boolean } | undefined;

function slot(plan: Plan, phase: 'connected' | 'partition', i: number): Slot[] {
  const half = Math.floor(i / 2);
  if (phase === 'connected') {
    // Even slots: a new holder enters at gateway k % 3; odd slots: the holder who entered a second ago leaves at the next gateway.
    if (i % 2 === 0) return [{ gateway: half % 3, lane: 'in', holder: half }];
    const k = half - Math.floor(plan.rate / 2);
    return k < 0 ? [] : [{ gateway: (k + 1) % 3, lane: 'out', holder: k }];
  }
  const base = plan.connectedSlots;
  const every = Math.max(1, Math.floor(plan.partitionSlots / Math.max(1, plan.conflicts)));
  const c = Math.floor(i / every);
  if (i % every === Math.floor(every / 2) && c < plan.conflicts) {
    // The same holder enters at gateways 0 and 1 while they cannot see each other.
    const holder = plan.holders - plan.conflicts + c;
    return [{ gateway: 0, lane: 'in', holder, conflict: true }, { gateway: 1, lane: 'in', holder, conflict: true }];
  }
  // Otherwise each holder stays with one gateway during the partition, so only the deliberate conflicts are conflicts.
  if (i % 2 === 0) return [{ gateway: (base + half) % 3, lane: 'in', holder: base + half }];
  const k = half - Math.floor(plan.rate / 2);
  return k < 0 ? [] : [{ gateway: (base + k) % 3, lane: 'out', holder: base + k }];
}

// ---------------------------------------------------------------- a gateway process

type ToWorker =
  | { cmd: 'setup'; index: number; port: number; dir: string; plan: Plan }
  | { cmd: 'phase'; phase: 'connected' | 'partition'; startAt: number; slots: number; measureFrom: number }
  | { cmd: 'probe' }
  | { cmd: 'stop' };

type FromWorker =
  | { ev: 'ready' }
  | { ev: 'phase-done'; times: number[]; twinTimes: number[]; denied: number }
  | { ev: 'probe'; verified: boolean; linkUp: boolean; digest: string; conflictsReported: number; propagation: number[]; occupancy: number }
  | { ev: 'stopped' };

const ZONES = [zoneSchema.parse({ id: 'bowl', antiPassback: { mode: 'hard' } })];
const LANES = [laneSchema.parse({ id: 'in', reader: { device: 'r' }, zone: 'bowl', direction: 'in' }), laneSchema.parse({ id: 'out', reader: { device: 'r' }, zone: 'bowl', direction: 'out' })];
const KEY = Buffer.alloc(32, 0x42);
const card = (n: number): Credential => ({ kind: 'card', value: String(100_000 + n) });

async function worker(): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  const clock = systemClock({ assumeSynced: true });
  const log = silentLogger();
  let engine: AccessEngine | undefined;
  let twin: AccessEngine | undefined;
  let link: VenueLink | undefined;
  const stores: EntitlementStore[] = [];
  let plan: Plan | undefined;
  let index = 0;
  const propagation: number[] = [];

  const open = async (dir: string, shared: VenueLink | undefined, metrics: Registry): Promise<AccessEngine> => {
    const store = openEntitlementStore({ dataDir: dir, key: KEY, clock, log, metrics });
    stores.push(store);
    const records = Array.from({ length: plan!.holders }, (_, i) => ({ holder: `h${i}`, credentials: [{ kind: 'card' as const, value: String(100_000 + i) }] }));
    await store.applySnapshot(
      (async function* () {
        yield* records;
      })(),
      { version: 'bench', issuedAt: new Date().toISOString() },
    );
    return createAccessEngine({ store, zones: ZONES, lanes: LANES, clock, metrics, log, timezone: 'UTC', stateDir: dir, ...(shared ? { shared } : {}) });
  };

  process.on('message', (msg: ToWorker) => {
    void (async () => {
      switch (msg.cmd) {
        case 'setup': {
          plan = msg.plan;
          index = msg.index;
          const id = IDS[index]!;
          const metrics = new Registry();
          link = createVenueLink({
            config: venueSchema.parse({ id: 'bench', url: `mqtt://127.0.0.1:${msg.port}`, peers: IDS, keepaliveS: 2, reconnectMs: 100, snapshotIntervalMs: 500 }),
            gatewayId: id,
            baseDir: msg.dir,
            dataDir: join(msg.dir, id),
            clock,
            log,
            metrics,
            events: { append: async () => undefined },
            makeEvent: eventFactory(id),
            raiseAlarm: () => undefined,
            conflictWindowMs: venueConflictWindows(ZONES),
            // Same machine, same wall clock: decided-at (ms) to now.
            onApplied: (m) => propagation.push(performance.timeOrigin + performance.now() - m.at),
          });
          engine = await open(join(msg.dir, id), link, metrics);
          twin = await open(join(msg.dir, `${id}-alone`), undefined, new Registry());
          link.start();
          await link.whenVerified();
          send({ ev: 'ready' });
          return;
        }
        case 'phase': {
          const times: number[] = [];
          const twinTimes: number[] = [];
          let denied = 0;
          const timeOne = (e: AccessEngine, lane: 'in' | 'out', holder: number, into: number[]) => {
            const t0 = performance.now();
            const d = e.decide(lane, card(holder));
            into.push((performance.now() - t0) * 1000);
            return d;
          };
          const unmeasured: number[] = [];
          for (let i = 0; i < msg.slots; i++) {
            const mine = slot(plan!, msg.phase, i).filter((s) => s?.gateway === index);
            if (mine.length === 0) continue;
            const wait = msg.startAt + (i * 1000) / plan!.rate - Date.now();
            if (wait > 1) await sleep(wait);
            // Warm-up: decided by both, measured by neither.
            const measured = i >= msg.measureFrom;
            for (const s of mine) {
              // Alternate which of the pair goes first: the second one runs on warmer caches.
              if (i % 4 < 2) timeOne(twin!, s!.lane, s!.holder, measured ? twinTimes : unmeasured);
              const d = timeOne(engine!, s!.lane, s!.holder, measured ? times : unmeasured);
              if (i % 4 >= 2) timeOne(twin!, s!.lane, s!.holder, measured ? twinTimes : unmeasured);
              if (d.result === 'denied') denied++;
            }
            unmeasured.length = 0;
          }
          send({ ev: 'phase-done', times, twinTimes, denied });
          return;
        }
        case 'probe': {
          const s = link!.status();
          send({ ev: 'probe', verified: s.verified, linkUp: s.connected, digest: link!.state.digest(), conflictsReported: s.conflictsReported, propagation: propagation.splice(0), occupancy: engine!.occupancy('bowl') });
          return;
        }
        case 'stop': {
          await link?.stop();
          engine?.close();
          twin?.close();
          for (const st of stores) st.close();
          send({ ev: 'stopped' });
          process.disconnect();
          return;
        }
      }
    })().catch((err: unknown) => {
      process.stderr.write(`bench venue worker failed: ${String((err as Error).stack ?? err)}\n`);
      process.exit(1);
    });
  });
}

if (process.env[WORKER_ENV] === '1' && process.send) void worker();

// ---------------------------------------------------------------- the orchestrator

class Broker {
  private child: ChildProcess | undefined;
  constructor(
    private readonly bin: string,
    private readonly conf: string,
    readonly port: number,
  ) {}
  async start(): Promise<void> {
    this.child = spawn(this.bin, ['-c', this.conf], { stdio: 'ignore' });
    await until(() => portOpen(this.port), 'mosquitto to listen', 10_000, 10);
  }
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class WorkerHandle {
  private readonly waiting: Array<{ ev: FromWorker['ev']; resolve: (m: FromWorker) => void; reject: (err: Error) => void }> = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      const i = this.waiting.findIndex((w) => w.ev === m.ev);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    child.once('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`bench venue worker exited (${code})`));
    });
  }
  ask<E extends FromWorker['ev']>(msg: ToWorker, ev: E): Promise<Extract<FromWorker, { ev: E }>> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error(`bench venue worker exited (${this.child.exitCode})`));
      this.waiting.push({ ev, resolve: resolve as (m: FromWorker) => void, reject });
      this.child.send(msg);
    });
  }
}

export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const rate = num(options.rate, 300);
  const seconds = num(options.seconds, 30);
  const warmupS = num(options.warmupS, 2);
  const partitionS = num(options.partitionS, 30);
  const conflicts = num(options.conflicts, 5);
  const bin = typeof options.mosquitto === 'string' ? options.mosquitto : '/usr/sbin/mosquitto';
  if (spawnSync(bin, ['-h']).error !== undefined) throw new Error(`bench venue needs mosquitto (${bin}); apt-get install mosquitto`);

  const root = mkdtempSync(join(tmpdir(), 'gatehouse-bench-venue-'));
  const port = await freePort();
  const conf = join(root, 'mosquitto.conf');
  // Without TCP_NODELAY each small forward waits for Nagle's algorithm (docs/venue.md "Broker settings").
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n`);
  const broker = new Broker(bin, conf, port);
  const plan: Plan = { rate, connectedSlots: Math.round(rate * (warmupS + seconds)), partitionSlots: Math.round(rate * partitionS), conflicts, holders: Math.round(rate * (warmupS + seconds + partitionS)) + conflicts + 10 };
  const self = fileURLToPath(import.meta.url);
  const workers: WorkerHandle[] = [];
  await broker.start();
  try {
    for (let i = 0; i < IDS.length; i++) {
      const child = fork(self, [], { env: { ...process.env, [WORKER_ENV]: '1' }, execArgv: self.endsWith('.ts') ? ['--import', 'tsx'] : [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      workers.push(new WorkerHandle(child));
    }
    await Promise.all(workers.map((w, index) => w.ask({ cmd: 'setup', index, port, dir: root, plan }, 'ready')));
    const probe = () => Promise.all(workers.map((w) => w.ask({ cmd: 'probe' }, 'probe')));
    const phase = async (p: 'connected' | 'partition', slots: number, measureFrom = 0) => {
      const startAt = Date.now() + 200;
      return Promise.all(workers.map((w) => w.ask({ cmd: 'phase', phase: p, startAt, slots, measureFrom }, 'phase-done')));
    };

    // 1. Connected: warm-up, then measured.
    const connected = await phase('connected', plan.connectedSlots, Math.round(rate * warmupS));
    await sleep(500);
    const propagation = (await probe()).flatMap((p) => p.propagation);

    // 2. Partition.
    await broker.stop();
    await until(async () => (await probe()).every((p) => !p.linkUp), 'every gateway to notice the partition', 30_000, 20);
    const partition = await phase('partition', plan.partitionSlots);

    // 3. Heal.
    const healStart = performance.now();
    await broker.start();
    let last: Awaited<ReturnType<typeof probe>> = [];
    await until(
      async () => {
        last = await probe();
        return last.every((p) => p.verified) && new Set(last.map((p) => p.digest)).size === 1;
      },
      'the gateways to converge',
      60_000,
      2,
    );
    const convergeMs = performance.now() - healStart;
    await sleep(1_000);
    last = await probe();

    // Index-aligned pairs: each slot appends to both lists of its gateway.
    const times = connected.flatMap((c) => c.times);
    const twinTimes = connected.flatMap((c) => c.twinTimes);
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    const aloneP50 = percentile(twinTimes, 50);
    const aloneP99 = percentile(twinTimes, 99);
    return {
      gateways: IDS.length,
      decisions_per_s: round(times.length / seconds, 1),
      target_decisions_per_s: rate,
      decisions: times.length + partition.reduce((n, p) => n + p.times.length, 0),
      propagation_p50_ms: round(percentile(propagation, 50)),
      propagation_p99_ms: round(percentile(propagation, 99)),
      propagation_samples: propagation.length,
      partition_s: partitionS,
      converge_ms: Math.round(convergeMs),
      conflicts_created: conflicts,
      conflicts_reported: last.reduce((n, p) => n + p.conflictsReported, 0),
      // Connected phase after the warm-up; the same decisions by the twins deciding alone.
      warmup_s: warmupS,
      decision_samples: times.length,
      decision_p50_ms: round(p50 / 1000, 4),
      decision_p99_ms: round(p99 / 1000, 4),
      single_gateway_decision_p50_ms: round(aloneP50 / 1000, 4),
      single_gateway_decision_p99_ms: round(aloneP99 / 1000, 4),
      decision_p50_ratio: round(aloneP50 === 0 ? 0 : p50 / aloneP50),
      decision_p99_ratio: round(aloneP99 === 0 ? 0 : p99 / aloneP99),
      decision_p99_ratio_ci95: ratioInterval(times, twinTimes, 99).map((r) => round(r)),
      denied_while_connected: connected.reduce((n, c) => n + c.denied, 0),
      occupancy: last.map((p) => p.occupancy),
    };
  } finally {
    await Promise.allSettled(workers.map((w) => (w.child.connected ? w.ask({ cmd: 'stop' }, 'stopped') : Promise.resolve())));
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await broker.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

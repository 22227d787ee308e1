import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { createAccessEngine, openEntitlementStore } from '../../gateway/access/index.js';
import { silentLogger } from '../../gateway/core/log.js';
import { gatewayEnv, gatewayNodeFlags } from '../../gateway/ops/node-flags.js';
import { raiseEventLoopPriority } from '../../gateway/ops/thread-priority.js';
import { compiledGateway, type GatewayBuild } from './compiled-gateway.js';
import { benchCard, benchClock, benchDir, benchLanes, benchRecords, benchZones, num, percentile } from './access-fixture.js';

/**
 * `gatehouse bench snapshot`: applies a snapshot of N holders while the same
 * process keeps deciding, and reports the longest gap between two decisions
 * (the event loop blocked by the load or the swap). Issue #8 targets with
 * N = 1,000,000: apply_s <= 20, max_decision_gap_ms <= 10.
 *
 * The snapshot is applied as the downlink applies one: from a staged NDJSON
 * file (written first, not timed), which the build process reads itself.
 *
 * Decisions are due every `--interval-ms` (default 1: 1,000/s, a stadium
 * surge's rate), so a gap longer than the interval is time the event loop
 * could not decide. `--interval-ms 0` decides back to back (setImmediate):
 * that keeps one core busy with decisions, which a gateway never does, and
 * on a 2-core box makes the build thread and the decisions fight for CPU.
 *
 * On a shared box most of a long gap is the OS running something else. On
 * Linux each gap is split (the thread's schedstat) into time this event loop
 * was on a CPU (load work, GC, the swap: what the gateway controls) and time
 * it waited for one; `max_gap_on_cpu_ms` is the largest of the former.
 */
/** This thread's time on a CPU and waiting in the run queue (ms, Linux schedstat); undefined elsewhere. */
function schedstat(): (() => [number, number]) | undefined {
  const file = '/proc/thread-self/schedstat';
  const read = (): [number, number] => {
    const [onCpu, waiting] = readFileSync(file, 'utf8').split(' ');
    return [Number(onCpu) / 1e6, Number(waiting) / 1e6];
  };
  try {
    read();
    return read;
  } catch {
    return undefined;
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental-marking',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

/**
 * The event loop's garbage-collection pauses, to say how much of a gap was
 * V8 collecting on the event loop (the gateway's allocation, which it can
 * change) rather than the load or the OS.
 */
export function gcPauses(): { within: (from: number, to: number) => { gc_ms: number; gc: string[] }; stop: () => void } {
  const pauses: Array<{ start: number; end: number; kind: string }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      pauses.push({ start: e.startTime, end: e.startTime + e.duration, kind });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    within(from, to) {
      let ms = 0;
      const kinds = new Set<string>();
      for (const p of pauses) {
        const overlap = Math.min(to, p.end) - Math.max(from, p.start);
        if (overlap > 0) {
          ms += overlap;
          kinds.add(p.kind);
        }
      }
      return { gc_ms: round2(ms), gc: [...kinds] };
    },
    stop: () => observer.disconnect(),
  };
}

/** Writes N bench records as a snapshot body (header line, then one record per line), as the downlink stages it. */
async function stageSnapshot(path: string, n: number): Promise<{ path: string; fromByte: number }> {
  const header = `${JSON.stringify({ gatehouse: 'snapshot', version: 'new', cursor: 'new' })}\n`;
  const out = createWriteStream(path);
  out.write(header);
  let chunk = '';
  for await (const record of benchRecords(n)) {
    chunk += `${JSON.stringify(record)}\n`;
    if (chunk.length >= 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return { path, fromByte: Buffer.byteLength(header) };
}

type Options = Record<string, string | number | boolean>;

/** What `gatehouse provision` writes as `gateway.realtimePriority`. */
const DEFAULT_REALTIME_PRIORITY = 10;

/** Set in the child process that measures (see `run`). */
const CHILD_ENV = 'GATEHOUSE_BENCH_SNAPSHOT_CHILD';

/**
 * Measures in a child process started as a venue starts the gateway: with
 * its Node flags and environment (gateway/ops/node-flags.ts: smaller
 * semi-spaces than V8's default 16 MB) and, from a source checkout, from the
 * compiled build. Run in the CLI's own process, the bench measured V8's
 * default heap, whose young-generation collections during the apply took
 * 10-17 ms (docs/benchmarks.md, tenth session).
 * `inProcess` measures in this process, with whatever flags it has.
 */
export async function run(options: Options, build: (o: { source?: boolean }) => Promise<GatewayBuild> = compiledGateway): Promise<Record<string, unknown>> {
  if (options.inProcess === true) return { ...(await measure(options)), node_flags: process.execArgv.filter((f) => f.startsWith('--max') || f.startsWith('--heap')), gateway: 'in-process' };
  const gateway = await build({ source: options.source === true });
  const self = fileURLToPath(import.meta.url);
  // The compiled copy of this file sits in the build's scripts/bench/, two levels under its gateway/cli/main.js.
  const script = gateway.bin ? join(dirname(gateway.bin), '..', '..', 'scripts', 'bench', 'snapshot.js') : self;
  const flags = gatewayNodeFlags();
  const child = fork(script, [], {
    env: gatewayEnv({ ...process.env, [CHILD_ENV]: '1' }),
    execArgv: [...flags, ...(script.endsWith('.ts') ? ['--import', 'tsx'] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  try {
    child.send(options);
    const [reply] = (await Promise.race([once(child, 'message'), exited.then(([code]) => Promise.reject(new Error(`bench snapshot child exited (${String(code)}) before reporting`)))])) as [{ result?: Record<string, unknown>; error?: string }];
    if (reply.error !== undefined) throw new Error(`bench snapshot child failed: ${reply.error}`);
    return { ...reply.result, node_flags: flags, gateway: gateway.kind };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

if (process.env[CHILD_ENV] === '1' && process.send) {
  process.once('message', (options: Options) => {
    measure(options).then(
      (result) => process.send?.({ result }, () => process.disconnect()),
      (err: unknown) => process.send?.({ error: String((err as Error)?.stack ?? err) }, () => process.disconnect()),
    );
  });
}

async function measure(options: Options): Promise<Record<string, unknown>> {
  // The event loop under SCHED_RR as a provisioned gateway runs it (`realtimePriority: 10`), unless
  // `realtime: false`. Refused (no permission here), the bench goes on at normal priority and says why,
  // as the gateway does.
  const realtime = options.realtime === false || options.inProcess === true ? undefined : raiseEventLoopPriority(typeof options.realtime === 'number' ? options.realtime : DEFAULT_REALTIME_PRIORITY);
  const entitlements = num(options.entitlements, 1_000_000);
  const intervalMs = options.intervalMs === 0 ? 0 : num(options.intervalMs, 1);
  const { dir, remove } = benchDir();
  const clock = benchClock();
  const log = silentLogger();
  const metrics = new Registry();
  const store = openEntitlementStore({ dataDir: dir, key: Buffer.alloc(32, 0x42), clock, log, metrics });
  const engine = createAccessEngine({ store, zones: benchZones, lanes: benchLanes, clock, metrics, log, timezone: 'UTC', stateDir: dir });
  try {
    // The "old" cache the decisions run against while the new one loads.
    await store.applySnapshot(benchRecords(10_000), { version: 'old', issuedAt: new Date(clock.now()).toISOString() });
    const staged = await stageSnapshot(join(dir, 'snapshot.ndjson'), entitlements);

    let done = false;
    let maxGap = 0;
    const gaps: number[] = [];
    let decisionsDuring = 0;
    let last = performance.now();
    const sched = schedstat();
    let lastSched = sched?.() ?? [0, 0];
    let maxOnCpu = 0;
    let worst = { ms: 0, on_cpu_ms: 0, runqueue_ms: 0, at_s: 0 };
    // Every gap over 5 ms, with when it came (s since the apply started): the load's phases differ.
    const longGaps: Array<{ at_s: number; ms: number; on_cpu_ms?: number; runqueue_ms?: number; from: number; to: number }> = [];
    const gc = gcPauses();
    let start = performance.now();
    const reasons: Record<string, number> = {};
    const decider = new Promise<void>((resolve) => {
      const loop = () => {
        const now = performance.now();
        const gap = now - last;
        let split: { on_cpu_ms: number; runqueue_ms: number } | undefined;
        if (sched) {
          const [onCpu, waiting] = sched();
          split = { on_cpu_ms: onCpu - lastSched[0], runqueue_ms: waiting - lastSched[1] };
          maxOnCpu = Math.max(maxOnCpu, split.on_cpu_ms);
          if (gap > worst.ms) worst = { ms: gap, ...split, at_s: (now - start) / 1000 };
          lastSched = [onCpu, waiting];
        }
        maxGap = Math.max(maxGap, gap);
        gaps.push(gap);
        // With its split where Linux gives one: whether the gateway or the scheduler made the gap.
        if (gap > 5 && longGaps.length < 50) {
          longGaps.push({ at_s: round2((now - start) / 1000), ms: round2(gap), ...(split ? { on_cpu_ms: round2(split.on_cpu_ms), runqueue_ms: round2(split.runqueue_ms) } : {}), from: last, to: now });
        }
        last = now;
        const d = engine.decide(decisionsDuring % 2 === 0 ? 'bowl-in' : 'bowl-out', { kind: 'card', value: benchCard(decisionsDuring % 10_000) });
        reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
        decisionsDuring++;
        if (done) resolve();
        else if (intervalMs === 0) setImmediate(loop);
        else setTimeout(loop, intervalMs);
      };
      setImmediate(loop);
    });

    start = performance.now();
    const startCpu = process.cpuUsage();
    await store.applySnapshotFile?.({ path: staged.path, fromByte: staged.fromByte, firstLine: 2 }, { version: 'new', issuedAt: new Date(clock.now()).toISOString() });
    const apply_s = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(startCpu);
    done = true;
    await decider;
    // GC entries reach the observer a few turns of the loop after the pause (not yet after one setImmediate).
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc.stop();
    return {
      entitlements,
      interval_ms: intervalMs,
      realtime_priority: realtime?.ok ? realtime.priority : null,
      ...(realtime && !realtime.ok ? { realtime_refused: realtime.reason } : {}),
      apply_s: Math.round(apply_s * 100) / 100,
      // Includes the deciding loop; on a shared box the wall figure mostly measures the neighbours.
      apply_cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
      load_avg_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      max_decision_gap_ms: Math.round(maxGap * 100) / 100,
      // The max is one bad moment (a GC pause, the scheduler); the p99 shows what a reader usually waits.
      p99_decision_gap_ms: Math.round(percentile(Float64Array.from(gaps).sort(), 99) * 100) / 100,
      ...(sched
        ? {
            max_gap_on_cpu_ms: round2(maxOnCpu),
            worst_gap: { ms: round2(worst.ms), on_cpu_ms: round2(worst.on_cpu_ms), runqueue_ms: round2(worst.runqueue_ms), at_s: round2(worst.at_s) },
          }
        : {}),
      gaps_over_5ms: longGaps.map(({ from, to, ...g }) => ({ ...g, ...gc.within(from, to) })),
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

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '../../gateway/errors.js';
import { gatewayEnv, gatewayNodeFlags } from '../../gateway/ops/node-flags.js';

export const GATEHOUSE_BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

/** The gateway under test, a child process started as an operator would start it. */
export interface GatewayChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote on stderr/stdout (warnings and errors only at the default level), last 64 KiB. */
  output(): string;
  stop(): Promise<number | null>;
}

export function startGatewayChild(configFile: string, logLevel = 'warn', bin = GATEHOUSE_BIN): GatewayChild {
  // With the production Node flags (gateway/ops/node-flags.ts): the figures are those of a deployed gateway.
  const child = spawn(process.execPath, [...gatewayNodeFlags(), bin, 'run', '--config', configFile], {
    env: { ...gatewayEnv(), GATEHOUSE_LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C in the terminal stops the crowd, not the gateway, so the run can still drain.
    detached: true,
  });
  // ...and it never outlives the simulator.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (child.pid === undefined) throw new GatehouseError('GH_SIM_GATEWAY', 'could not start the gateway child process');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    pid: child.pid,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    },
  };
}

/** Resolves when `check` returns true; polls every `everyMs`; fails with the reason after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new GatehouseError('GH_SIM_GATEWAY', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The series of a Prometheus text exposition the simulator reads. */
export interface Scrape {
  decisions: number;
  /** Cumulative `gatehouse_decision_seconds` buckets: upper bound (s) -> count, +Inf as Infinity. */
  buckets: Map<number, number>;
  outboxDepth: number;
  /** The gateway's event-loop delay p99 since the previous scrape (prom-client default metrics), seconds. */
  loopLagP99: number;
  /** Share (0-1) of the last second the gateway's event loop was busy (`gatehouse_event_loop_utilization{window="1s"}`); NaN when absent. */
  loopBusy: number;
  /** `gatehouse_errors_total` by code. */
  errors: Record<string, number>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

/** Parses the few series the simulator needs from /metrics text. */
export function parseMetrics(text: string): Scrape {
  const s: Scrape = { decisions: 0, buckets: new Map(), outboxDepth: 0, loopLagP99: NaN, loopBusy: NaN, errors: {} };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, name, labels = '', valueText] = m;
    const value = Number(valueText);
    if (!Number.isFinite(value)) continue;
    if (name === 'gatehouse_decisions_total') s.decisions += value;
    else if (name === 'gatehouse_outbox_depth') s.outboxDepth = value;
    else if (name === 'gatehouse_process_nodejs_eventloop_lag_p99_seconds') s.loopLagP99 = value;
    else if (name === 'gatehouse_event_loop_utilization' && labels.includes('window="1s"')) s.loopBusy = value;
    else if (name === 'gatehouse_decision_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(labels)?.[1];
      if (le !== undefined) {
        const bound = le === '+Inf' ? Infinity : Number(le);
        s.buckets.set(bound, (s.buckets.get(bound) ?? 0) + value);
      }
    } else if (name === 'gatehouse_errors_total') {
      const code = /code="([^"]+)"/.exec(labels)?.[1] ?? 'unknown';
      s.errors[code] = (s.errors[code] ?? 0) + value;
    }
  }
  return s;
}

/**
 * A quantile of the observations made between two scrapes of a cumulative
 * histogram, interpolated linearly inside the bucket it falls in (as
 * Prometheus' histogram_quantile does). NaN when nothing was observed.
 */
export function histogramQuantile(q: number, before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i]!;
    const count = counts[i]!;
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      const inBucket = count - prevCount;
      // Clamped: 0.001 + 0.009 * 1 is 0.010000000000000002 in floating point, past the bucket's own bound.
      return inBucket <= 0 ? bound : Math.min(bound, prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

export async function scrape(adminUrl: string): Promise<Scrape> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (!res.ok) throw new GatehouseError('GH_SIM_GATEWAY', `/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

/** Peak resident set (VmHWM, MiB) and CPU time (s) of a process, from /proc (Linux). */
export function processUsage(pid: number): { rssMb: number; cpuS: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMb: hwm / 1024, cpuS: ticks / 100 };
  } catch {
    return undefined;
  }
}

/**
 * The machine's CPU ticks from /proc/stat (Linux): all of them, and those
 * stolen by the hypervisor for other guests. A VM that slows for reasons of
 * its host shows it here, not in its own processes' CPU time.
 */
export function machineTicks(): { total: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (proc(5)); guest time is already in user.
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return undefined;
  }
}

/** Share of the machine's CPU time stolen between two readings, in % (-1 where /proc/stat is unreadable). */
export function stealPct(from: ReturnType<typeof machineTicks>, to: ReturnType<typeof machineTicks>): number {
  if (!from || !to || to.total <= from.total) return -1;
  return Number((((to.steal - from.steal) / (to.total - from.total)) * 100).toFixed(1));
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

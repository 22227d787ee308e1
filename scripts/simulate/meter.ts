import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { histogramQuantile, machineTicks, percentile, processUsage, scrape, stealPct, type Scrape } from './child.js';
import type { LaneTimer } from './lanes.js';

/** One second of the run, for the live line and the chart. */
export interface TimelinePoint {
  t: number;
  decisions_per_s: number;
  lane_p99_ms: number;
  decision_p99_ms: number;
  outbox_depth: number;
  central_lag_p95_ms: number;
  gateway_loop_p99_ms: number;
  /** Share of the second the gateway's event loop was busy, % (-1 when the gateway does not report it): near 100, queues form. */
  gateway_loop_busy_pct: number;
  simulator_loop_p99_ms: number;
  /** The gateway process's CPU in this second, % of one core (-1 where /proc is unreadable). */
  gateway_cpu_pct: number;
  /** This process's CPU in this second (% of one core): its work is about the same every second, so it follows the machine's speed. */
  simulator_cpu_pct: number;
  /** Share of the machine's CPU the hypervisor gave to other guests in this second (%): a slower machine, not a slower gateway. */
  steal_pct: number;
}

const ACCESS_TYPE = /^io\.gatehouse\.access\./;

export const round = (n: number, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : -1);

export interface RunMeterOptions {
  adminUrl: string;
  gatewayPid: number;
  lanes: LaneTimer;
  /** Start of the run (performance.now()). */
  t0: number;
  /** The gateway's metrics at the start of the run. */
  first: Scrape;
  /** Live progress lines go here; none when unset. */
  progress?: NodeJS.WritableStream;
}

/**
 * Measures a run once a second from outside the gateway: its metrics
 * (decisions, decision latency, outbox depth, loop delay), its CPU from /proc,
 * the host's stolen CPU, this process's loop delay, and each access event's
 * lag to central as central stores it. Keeps the per-second timeline and
 * writes the live line.
 */
export class RunMeter {
  readonly timeline: TimelinePoint[] = [];
  /** Every access event central stored during the run: lag (ms) and event time (epoch ms). */
  readonly lags: Array<{ ms: number; time: number }> = [];
  private readonly lagsBySecond: number[][] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private ticker?: NodeJS.Timeout;

  constructor(private readonly o: RunMeterOptions) {}

  /**
   * Central's hook for every stored event. (Polling a copy of central's whole
   * store every 100 ms instead cost this process up to tens of ms a time late
   * in a run, which showed up as lane latency.)
   */
  onCentralEvent(e: CloudEvent): void {
    if (!ACCESS_TYPE.test(e.type) || !e.time) return;
    const time = Date.parse(e.time);
    const ms = Date.now() - time;
    this.lags.push({ ms, time });
    (this.lagsBySecond[Math.floor((performance.now() - this.o.t0) / 1000)] ??= []).push(ms);
  }

  start(): void {
    this.loop.enable();
    let last = this.o.first;
    let lastAnswered = 0;
    let lastUsage = processUsage(this.o.gatewayPid);
    let lastMachine = machineTicks();
    let lastOwn = process.cpuUsage();
    let lastTick = performance.now();
    this.ticker = setInterval(() => {
      const usage = processUsage(this.o.gatewayPid);
      const machine = machineTicks();
      const now = performance.now();
      const seconds = (now - lastTick) / 1000;
      const gatewayCpuPct = usage && lastUsage ? round(((usage.cpuS - lastUsage.cpuS) / seconds) * 100, 0) : -1;
      const own = process.cpuUsage(lastOwn);
      const simulatorCpuPct = round(((own.user + own.system) / 1e6 / seconds) * 100, 0);
      const steal = stealPct(lastMachine, machine);
      lastUsage = usage;
      lastOwn = process.cpuUsage();
      lastMachine = machine;
      lastTick = now;
      void scrape(this.o.adminUrl)
        .then((s) => {
          const t = this.timeline.length + 1;
          const point: TimelinePoint = {
            t,
            decisions_per_s: s.decisions - last.decisions,
            lane_p99_ms: this.laneP99(t),
            decision_p99_ms: round(histogramQuantile(0.99, last.buckets, s.buckets) * 1000, 3),
            outbox_depth: s.outboxDepth,
            central_lag_p95_ms: round(percentile([...(this.lagsBySecond[t - 1] ?? [])].sort((a, b) => a - b), 0.95), 0),
            gateway_loop_p99_ms: round(s.loopLagP99 * 1000, 1),
            gateway_loop_busy_pct: round(s.loopBusy * 100, 0),
            simulator_loop_p99_ms: round(this.loop.percentile(99) / 1e6, 1),
            gateway_cpu_pct: gatewayCpuPct,
            simulator_cpu_pct: simulatorCpuPct,
            steal_pct: steal,
          };
          this.loop.reset();
          this.timeline.push(point);
          last = s;
          const answered = this.o.lanes.answered;
          this.o.progress?.write(
            `t=${String(t).padStart(4)}s  decisions/s ${String(point.decisions_per_s).padStart(5)}  presented ${String(answered - lastAnswered).padStart(5)}/s  decision p99 ${point.decision_p99_ms.toFixed(3)} ms  lane p99 ${point.lane_p99_ms.toFixed(1)} ms  outbox ${String(point.outbox_depth).padStart(6)}  central lag p95 ${point.central_lag_p95_ms} ms  loop p99 gw ${point.gateway_loop_p99_ms} sim ${point.simulator_loop_p99_ms} ms\n`,
          );
          lastAnswered = answered;
        })
        .catch(() => undefined);
    }, 1000);
  }

  /**
   * Stops the ticker. The live line could only count answers already back;
   * the timeline gets every answer, by the second the card was presented.
   */
  stop(): void {
    clearInterval(this.ticker);
    this.loop.disable();
    for (const p of this.timeline) p.lane_p99_ms = this.laneP99(p.t);
  }

  private laneP99(t: number): number {
    return round(percentile([...(this.o.lanes.bySecond[t - 1] ?? [])].sort((a, b) => a - b), 0.99), 1);
  }
}

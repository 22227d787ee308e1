import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * How busy the gateway's event loop is: the share of wall time it spent
 * running callbacks (Node's `performance.eventLoopUtilization`), over the last
 * second and the last ten.
 *
 * Why next to the loop-lag metrics: every decision, MQTT packet, OSDP
 * exchange and outbox write runs on this one thread, so it saturates before
 * the machine does: in the stadium surge on the 2-core build machine it was
 * busy 84-86 % of each second at the median and up to 99 %, with the second
 * core not full (docs/benchmarks.md, seventh session). Lag only grows once
 * queues form; utilization shows the headroom left before that.
 */
export interface LoopUtilization {
  /** Busy share (0-1) of the last completed sample, and the mean of up to the last `samples`. */
  current(): { last: number; mean: number };
  stop(): void;
}

export function startLoopUtilization(registry: Registry, opts: { everyMs?: number; samples?: number } = {}): LoopUtilization {
  const everyMs = opts.everyMs ?? 1000;
  const samples = opts.samples ?? 10;
  const ring: number[] = [];
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    ring.push(performance.eventLoopUtilization(now, previous).utilization);
    if (ring.length > samples) ring.shift();
    previous = now;
  }, everyMs);
  timer.unref();
  const current = () => ({ last: ring.at(-1) ?? 0, mean: ring.length === 0 ? 0 : ring.reduce((s, v) => s + v, 0) / ring.length });
  const windows = { short: `${everyMs / 1000}s`, long: `${(everyMs * samples) / 1000}s` };
  new Gauge({
    name: 'gatehouse_event_loop_utilization',
    help: 'Share of wall time (0-1) the event loop spent running callbacks, over the last second (window="1s") and the last ten (window="10s").',
    labelNames: ['window'],
    registers: [registry],
    collect() {
      const c = current();
      this.set({ window: windows.short }, c.last);
      this.set({ window: windows.long }, c.mean);
    },
  });
  return { current, stop: () => clearInterval(timer) };
}

import { Registry } from 'prom-client';
import { Bus, type BusTopic, type BusTopics } from '../../gateway/bus/bus.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { DriverContext } from '../../gateway/core/driver.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';

/**
 * A driver context for reader tests: a real bus and registry, a silent
 * logger and a clock on `Date.now()` (which vitest's fake timers control).
 * `seen(topic)` returns what was published on a topic, in order.
 */
export function readerContext<C>(config: C) {
  const bus = new Bus((topic, err) => {
    throw new Error(`bus listener on ${topic} threw: ${String(err)}`);
  });
  const metrics = new Registry();
  const origin = Date.now();
  const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() - origin, isSynced: () => true };
  const published = new Map<BusTopic, unknown[]>();
  for (const topic of ['credential', 'device.status', 'alarm', 'passage'] as const) {
    published.set(topic, []);
    bus.on(topic, (p) => published.get(topic)!.push(p));
  }
  const ctx: DriverContext<C> = {
    config,
    gatewayId: 'gw-test',
    bus,
    log: silentLogger(),
    metrics,
    clock,
    events: { append: async () => {} },
    makeEvent: eventFactory('gw-test'),
  };
  const seen = <K extends 'credential' | 'device.status' | 'alarm' | 'passage'>(topic: K) => published.get(topic) as Array<BusTopics[K]>;
  /** Value of a counter with these labels (0 when never incremented). */
  const count = async (name: string, labels: Record<string, string>) => {
    const metric = metrics.getSingleMetric(name);
    if (!metric) return 0;
    const data = await metric.get();
    const hit = data.values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val));
    return hit?.value ?? 0;
  };
  return { ctx, bus, clock, metrics, seen, count };
}

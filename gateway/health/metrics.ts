import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotGauge } from './hot-metrics.js';

/**
 * The gateway-wide metrics. A registry per gateway instance (never the global
 * one) so tests and several gateways in one process do not share counters.
 * Modules register their own `gatehouse_*` metrics on `registry` at construction.
 */
export interface CoreMetrics {
  registry: Registry;
  decisions: HotCounter<'result' | 'reason' | 'lane'>;
  decisionSeconds: Histogram<never>;
  eventsAppended: Counter<'priority'>;
  eventsSynced: Counter<never>;
  outboxDepth: Gauge<never>;
  deviceOnline: Gauge<'device' | 'reader'>;
  errors: Counter<'code'>;
  alarmsActive: Gauge<'kind'>;
  deviceLastSeen: HotGauge<'device' | 'reader'>;
  uplinkLastSuccess: Gauge<never>;
}

export function createCoreMetrics(options: { defaultMetrics?: boolean } = {}): CoreMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  const registers = [registry];
  return {
    registry,
    decisions: new HotCounter(registry, { name: 'gatehouse_decisions_total', help: 'Access decisions by result, reason and lane.', labelNames: ['result', 'reason', 'lane'] }),
    decisionSeconds: new Histogram({
      name: 'gatehouse_decision_seconds',
      help: 'Time from credential in to decision out, inside the gateway.',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers,
    }),
    eventsAppended: new Counter({ name: 'gatehouse_events_appended_total', help: 'Events appended durably to the outbox, by priority.', labelNames: ['priority'], registers }),
    eventsSynced: new Counter({ name: 'gatehouse_events_synced_total', help: 'Events acknowledged by the central side.', registers }),
    outboxDepth: new Gauge({ name: 'gatehouse_outbox_depth', help: 'Events waiting in the outbox.', registers }),
    deviceOnline: new Gauge({ name: 'gatehouse_device_online', help: '1 when the device (or reader on a bus) is online.', labelNames: ['device', 'reader'], registers }),
    errors: new Counter({ name: 'gatehouse_errors_total', help: 'Errors by stable code (see docs/errors.md).', labelNames: ['code'], registers }),
    alarmsActive: new Gauge({ name: 'gatehouse_alarms_active', help: 'Active alarms by kind.', labelNames: ['kind'], registers }),
    deviceLastSeen: new HotGauge(registry, { name: 'gatehouse_device_last_seen_timestamp_seconds', help: 'Unix time a device (or reader on a bus) was last online or last presented a credential.', labelNames: ['device', 'reader'] }),
    uplinkLastSuccess: new Gauge({ name: 'gatehouse_uplink_last_success_timestamp_seconds', help: 'Unix time the central side last acknowledged a batch.', registers }),
  };
}

/**
 * Registers a metric once per registry and hands back the same one to every
 * later caller: several devices of one driver kind share `gatehouse_*`
 * metrics, told apart by their `device` label.
 */
export function sharedCounter<L extends string>(registry: Registry, config: { name: string; help: string; labelNames?: readonly L[] }): Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ ...config, registers: [registry] });
}

export function sharedGauge<L extends string>(registry: Registry, config: { name: string; help: string; labelNames?: readonly L[] }): Gauge<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ ...config, registers: [registry] });
}

export function sharedHistogram<L extends string>(registry: Registry, config: { name: string; help: string; labelNames?: readonly L[]; buckets?: number[] }): Histogram<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ ...config, registers: [registry] });
}

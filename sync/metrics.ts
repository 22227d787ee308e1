import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Get-or-create helpers: the gateway registers some sync metrics in
 * gateway/health/metrics.ts too (e.g. `gatehouse_outbox_depth`), and an outbox
 * or uplink may be re-created on the same registry (restart after a fault);
 * prom-client throws on a second registration of a name.
 */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

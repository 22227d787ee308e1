import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Registers a metric once per registry: several modules (and a reload) may ask
 * for `gatehouse_errors_total`, and prom-client throws on a second registration.
 */
export function counterOn<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gaugeOn<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], collect?: (this: Gauge<L>) => void): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return collect ? new Gauge({ name, help, labelNames, registers: [registry], collect }) : new Gauge({ name, help, labelNames, registers: [registry] });
}

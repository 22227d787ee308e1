import { Registry } from 'prom-client';
import type { Bus } from '../../gateway/bus/bus.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { DriverContext } from '../../gateway/core/driver.js';
import type { OsdpDeviceConfig } from './config.js';

/**
 * What the OSDP driver needs to run outside a gateway (benchmarks, tests):
 * a silent log, the system clock, and no event sink, since the OSDP driver
 * emits no events of its own (it publishes on the bus).
 */
export function standaloneOsdpContext(config: OsdpDeviceConfig, bus: Bus, metrics: Registry = new Registry(), gatewayId = 'gw'): DriverContext<OsdpDeviceConfig> {
  return {
    config,
    gatewayId,
    bus,
    log: silentLogger(),
    metrics,
    clock: { now: () => Date.now(), monotonic: () => performance.now(), isSynced: () => true },
    events: undefined as unknown as DriverContext<OsdpDeviceConfig>['events'],
    makeEvent: undefined as unknown as DriverContext<OsdpDeviceConfig>['makeEvent'],
  };
}

import type { DriverFactory } from '../core/driver.js';
import type { DeviceConfig } from '../../config/schema.js';

/**
 * Driver factories by `driver:` name, imported lazily so a gateway loads only
 * the hardware libraries its config needs (DESIGN.md: noble, onoff, node-hid
 * and serialport are never loaded for devices that are not configured).
 * MQTT devices are served by the embedded broker, not by a factory here.
 */
type Loader = () => Promise<DriverFactory<never>>;

const loaders: Partial<Record<DeviceConfig['driver'], Loader>> = {
  sim: async () => (await import('../../drivers/sim/driver.js')).createDriver as DriverFactory<never>,
  osdp: async () => (await import('../../drivers/osdp/driver.js')).createDriver as DriverFactory<never>,
  wiegand: async () => (await import('../../drivers/wiegand/driver.js')).createDriver as DriverFactory<never>,
  gpio: async () => (await import('../../drivers/gpio/driver.js')).createDriver as DriverFactory<never>,
  hid: async () => (await import('../../drivers/hid/driver.js')).createDriver as DriverFactory<never>,
  'serial-reader': async () => (await import('../../drivers/serial-reader/driver.js')).createDriver as DriverFactory<never>,
  ble: async () => (await import('../../drivers/ble/driver.js')).createDriver as DriverFactory<never>,
};

export function hasDriver(name: DeviceConfig['driver']): boolean {
  return loaders[name] !== undefined;
}

export async function loadDriverFactory(name: DeviceConfig['driver']): Promise<DriverFactory<never> | undefined> {
  return loaders[name]?.();
}

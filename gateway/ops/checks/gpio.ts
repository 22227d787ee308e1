import type { DeviceConfig } from '../../../config/schema.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface GpioDeps {
  /** Resolves to onoff's `Gpio.accessible`; rejects when onoff cannot be loaded. */
  accessible?: () => Promise<boolean>;
}

async function onoffAccessible(): Promise<boolean> {
  const mod = (await import('onoff')) as unknown as { Gpio: { accessible: boolean } };
  return mod.Gpio.accessible;
}

/** Devices that drive real GPIO lines (not a simulator socket). */
export function gpioDevicesOf(devices: readonly DeviceConfig[]): string[] {
  return devices
    .filter((d) => d.driver === 'gpio' || d.driver === 'wiegand')
    .filter((d) => {
      const pins = (d as unknown as { pins?: { kind?: string } }).pins;
      // A wiegand/gpio device with no pins section uses the default: real lines.
      return pins === undefined || pins.kind === 'onoff';
    })
    .map((d) => d.id);
}

/** GPIO is accessible when a device needs it; otherwise the check is skipped. */
export async function checkGpio(ctx: CheckContext, deps: GpioDeps = {}): Promise<CheckResult> {
  const needing = gpioDevicesOf(ctx.loaded.config.devices);
  if (needing.length === 0) return result('gpio', 'skip', 'no GPIO or Wiegand device on real pins configured');
  let accessible: boolean;
  try {
    accessible = await (deps.accessible ?? onoffAccessible)();
  } catch (err) {
    return result('gpio', 'fail', `the onoff library cannot be loaded: ${reasonOf(err)}`, 'install the optional dependency (npm install onoff) on the gateway; it needs a Linux kernel with GPIO');
  }
  if (accessible) return result('gpio', 'ok', `GPIO accessible for ${needing.join(', ')}`);
  return result(
    'gpio',
    'fail',
    `GPIO is not accessible (needed by ${needing.join(', ')}): /sys/class/gpio missing or not writable`,
    'on a Raspberry Pi add the service user to the gpio group (SupplementaryGroups=gpio in the unit); in a container pass --device /dev/gpiochip0 and mount /sys/class/gpio',
  );
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../gateway/core/clock.js';
import { GatehouseError } from '../../gateway/errors.js';
import type * as Onoff from 'onoff';
import { PinWatchers } from './pin-watchers.js';
import type { Level, LineRequest, PinIO } from './pinio.js';

/** The GPIO chip labels of a Raspberry Pi's 40-pin header: BCM2835/6/7 (Pi 1-3), BCM2711 (Pi 4), RP1 (Pi 5). */
const HEADER_CHIP_LABELS = /^pinctrl-(bcm2835|bcm2711|bcm2712|rp1)$/;

/**
 * The sysfs number of the header's first GPIO. Kernels since 6.6 no longer
 * start the header chip at 0 (512 on a Pi 4, 571 on a Pi 5), so BCM 17 is
 * sysfs 529 or 588: reading the chip's label/base avoids guessing.
 */
export function findHeaderChipBase(sysfsRoot = '/sys/class/gpio'): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync(sysfsRoot).filter((e) => e.startsWith('gpiochip'));
  } catch {
    return undefined;
  }
  for (const chip of entries) {
    try {
      const label = readFileSync(join(sysfsRoot, chip, 'label'), 'utf8').trim();
      if (HEADER_CHIP_LABELS.test(label)) return Number(readFileSync(join(sysfsRoot, chip, 'base'), 'utf8').trim());
    } catch {
      // A chip that vanished or is unreadable is not the header chip.
    }
  }
  return undefined;
}

type OnoffModule = typeof Onoff;

interface OnoffGpio {
  readSync(): Level;
  writeSync(value: Level): void;
  watch(cb: (err: Error | null | undefined, value: Level) => void): void;
  unexport(): void;
}

/**
 * Real GPIO through onoff (sysfs), loaded lazily so a gateway without GPIO
 * never loads it. Edges are stamped when their callback runs: sysfs interrupt
 * latency is a few hundred µs to ms under load (docs/readers.md), which the
 * Wiegand assembler tolerates because it only needs bit order and the idle gap.
 */
export function createOnoffPinIO(options: { chipBase: number | 'auto'; clock: Pick<Clock, 'monotonic'>; sysfsRoot?: string }): PinIO {
  const lines = new Map<string, OnoffGpio>();
  const watchers = new PinWatchers();
  const get = (name: string) => {
    const g = lines.get(name);
    if (!g) throw new Error(`unknown line ${name}`);
    return g;
  };
  const release = () => {
    for (const g of lines.values()) {
      try {
        g.unexport();
      } catch {
        // Already gone (device unplugged or another process unexported it).
      }
    }
    lines.clear();
  };
  return {
    kind: 'onoff',
    async open(requests: readonly LineRequest[]) {
      let mod: OnoffModule;
      try {
        mod = await import('onoff');
      } catch (err) {
        throw new GatehouseError('GH_GPIO_UNAVAILABLE', `the onoff package cannot be loaded: ${(err as Error).message}`, {}, { cause: err });
      }
      const { Gpio } = mod;
      if (!Gpio.accessible) {
        throw new GatehouseError('GH_GPIO_UNAVAILABLE', `GPIO is not accessible (${options.sysfsRoot ?? '/sys/class/gpio'} missing or not writable: not a Raspberry Pi, a container without /sys/class/gpio, or the user is not in the gpio group)`);
      }
      const base = options.chipBase === 'auto' ? (findHeaderChipBase(options.sysfsRoot) ?? 0) : options.chipBase;
      try {
        for (const r of requests) {
          if (r.gpio === undefined) throw new Error(`line ${r.name} has no gpio number`);
          const edge = r.edge ?? 'both';
          const g: OnoffGpio = r.direction === 'in' ? new Gpio(base + r.gpio, 'in', edge) : new Gpio(base + r.gpio, r.initial === 1 ? 'high' : 'low');
          lines.set(r.name, g);
          if (r.direction === 'in') {
            g.watch((err, value) => {
              if (err) return;
              const at = options.clock.monotonic();
              if (edge === 'falling') watchers.pulse(r.name, at);
              else watchers.emit(r.name, value, at);
            });
          }
        }
      } catch (err) {
        release();
        throw new GatehouseError('GH_GPIO_UNAVAILABLE', `cannot claim GPIO lines: ${(err as Error).message}`, { base }, { cause: err });
      }
    },
    read: (name) => get(name).readSync(),
    write: (name, value) => get(name).writeSync(value),
    watch: (name, listener) => watchers.watch(name, listener),
    async close() {
      watchers.clear();
      release();
    },
  };
}

/** `doctor` hook: can this machine use GPIO through onoff, and where is the header chip? */
export async function checkGpio(sysfsRoot = '/sys/class/gpio'): Promise<{ ok: boolean; detail: string }> {
  try {
    const { Gpio } = await import('onoff');
    if (!Gpio.accessible) return { ok: false, detail: `GPIO not accessible: ${sysfsRoot} missing or not writable (not a Raspberry Pi, a container without it, or the user is not in the gpio group)` };
  } catch (err) {
    return { ok: false, detail: `the onoff package cannot be loaded: ${(err as Error).message}` };
  }
  const base = findHeaderChipBase(sysfsRoot);
  return { ok: true, detail: base === undefined ? 'GPIO accessible; no Raspberry Pi header chip found (set pins.chipBase by hand)' : `GPIO accessible; header chip base ${base} (pins.chipBase: auto)` };
}

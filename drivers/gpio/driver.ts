import type { Driver, DriverContext, DriverFactory } from '../../gateway/core/driver.js';
import type { DeviceState } from '../../gateway/core/types.js';
import { errorCodeOf } from '../../gateway/errors.js';
import type { GpioDeviceConfig } from './config.js';
import { DoorController, doorLines } from './door.js';
import { readerMetrics } from './metrics.js';
import { createPinIO, type PinIO } from './pinio.js';
import { Retrier } from './retry.js';

export interface GpioDeps {
  /** Replaces the PinIO the config names (tests, simulations). */
  pinio?: PinIO;
}

/**
 * Door / turnstile I/O (door.ts) bound to a PinIO. Lanes name this device as
 * their `output`; the composition root calls `feedback` with each decision.
 */
export function createGpioDriver(ctx: DriverContext<GpioDeviceConfig>, deps: GpioDeps = {}): Driver {
  const { config, bus, log, clock } = ctx;
  const metrics = readerMetrics(ctx.metrics);
  let state: DeviceState = 'stopped';
  let pinio: PinIO | undefined;
  let door: DoorController | undefined;

  const setState = (next: DeviceState, reason?: string) => {
    state = next;
    bus.emit('device.status', { deviceId: config.id, state: next, ...(reason ? { reason } : {}), at: clock.now() });
  };

  const retrier = new Retrier({
    attempt: async () => {
      const io = deps.pinio ?? (await createPinIO(config.pins, clock));
      await io.open(doorLines(config));
      pinio = io;
      door = new DoorController({ config, io, bus, clock, log, metrics });
      door.start();
      setState('online');
    },
    onError: (err, retryInMs) => {
      const code = errorCodeOf(err) === 'GH_INTERNAL' ? 'GH_GPIO_UNAVAILABLE' : errorCodeOf(err);
      metrics.rejects.inc({ device: config.id, code });
      log.warn({ code, retryInMs }, `gpio unavailable: ${(err as Error).message}`);
      setState('unavailable', (err as Error).message);
    },
  });

  return {
    id: config.id,
    async start() {
      setState('starting');
      await retrier.start();
    },
    async stop() {
      retrier.stop();
      door?.stop();
      door = undefined;
      const io = pinio;
      pinio = undefined;
      await io?.close();
      setState('stopped');
    },
    state: () => state,
    feedback(_reader, fb) {
      if (!door) {
        log.warn({ lane: fb.decision.laneId }, 'feedback while gpio is not available: relay not pulsed');
        return;
      }
      door.feedback(fb);
    },
  };
}

export const createDriver: DriverFactory<GpioDeviceConfig> = (ctx) => createGpioDriver(ctx);

export { checkGpio } from './pinio-onoff.js';

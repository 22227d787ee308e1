import type { Driver, DriverContext, DriverFactory } from '../../gateway/core/driver.js';
import type { DeviceState } from '../../gateway/core/types.js';
import { errorCodeOf } from '../../gateway/errors.js';
import { readerMetrics } from '../gpio/metrics.js';
import { Retrier } from '../gpio/retry.js';
import type { HidDeviceConfig } from './config.js';
import { WedgeDecoder } from './decode.js';
import { createNodeHidSource, type HidSource } from './source.js';

export interface HidDeps {
  /** Replaces the node-hid source (tests, simulations). */
  source?: HidSource;
}

/**
 * A USB keyboard-wedge reader: boot keyboard reports -> text on Enter ->
 * `credential`. When node-hid or the device is missing the driver reports
 * `unavailable` with the reason and retries with backoff; an unplugged
 * reader goes `offline` and is reopened the same way.
 */
export function createHidDriver(ctx: DriverContext<HidDeviceConfig>, deps: HidDeps = {}): Driver {
  const { config, bus, log, clock } = ctx;
  const id = config.id;
  const metrics = readerMetrics(ctx.metrics);
  const decoder = new WedgeDecoder({ interKeyTimeoutMs: config.interKeyTimeoutMs, maxLength: config.maxLength });
  const source = deps.source ?? createNodeHidSource(config);
  let state: DeviceState = 'stopped';
  let stopped = true;

  const setState = (next: DeviceState, reason?: string) => {
    state = next;
    bus.emit('device.status', { deviceId: id, state: next, ...(reason ? { reason } : {}), at: clock.now() });
  };

  source.onReport((report) => {
    for (const ev of decoder.report(report, clock.monotonic())) {
      if (ev.kind === 'credential') {
        metrics.frames.inc({ device: id, driver: 'hid', result: config.kind });
        bus.emit('credential', { deviceId: id, credential: { kind: config.kind, value: ev.value }, at: clock.now(), monoAt: clock.monotonic() });
      } else if (ev.kind === 'bad_report') {
        metrics.frames.inc({ device: id, driver: 'hid', result: 'bad_report' });
        metrics.rejects.inc({ device: id, code: 'GH_HID_BAD_REPORT' });
        log.warn({ code: 'GH_HID_BAD_REPORT' }, `HID report rejected: ${ev.detail}`);
      } else {
        metrics.frames.inc({ device: id, driver: 'hid', result: `discarded_${ev.reason}` });
        log.info({ why: ev.reason, length: ev.length }, 'partial HID input discarded');
      }
    }
  });

  const retrier = new Retrier({
    attempt: async () => {
      await source.open();
      decoder.reset();
      setState('online');
    },
    onError: (err, retryInMs) => {
      const code = errorCodeOf(err) === 'GH_INTERNAL' ? 'GH_HID_UNAVAILABLE' : errorCodeOf(err);
      metrics.rejects.inc({ device: id, code });
      log.warn({ code, retryInMs }, `HID reader unavailable: ${(err as Error).message}`);
      setState('unavailable', (err as Error).message);
    },
  });

  source.onClose((err) => {
    if (stopped) return;
    log.warn({ code: 'GH_HID_UNAVAILABLE' }, `HID reader went away: ${err?.message ?? 'closed'}`);
    setState('offline', err?.message ?? 'device closed');
    retrier.retryLater();
  });

  return {
    id,
    async start() {
      stopped = false;
      setState('starting');
      await retrier.start();
    },
    async stop() {
      stopped = true;
      retrier.stop();
      await source.close();
      setState('stopped');
    },
    state: () => state,
  };
}

export const createDriver: DriverFactory<HidDeviceConfig> = (ctx) => createHidDriver(ctx);

export { checkHid } from './source.js';

import type { Driver, DriverContext, DriverFactory } from '../../gateway/core/driver.js';
import { readerMetrics } from '../gpio/metrics.js';
import { createReconnectingSource } from '../gpio/reconnecting-source.js';
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

  const shell = createReconnectingSource(ctx, {
    metrics,
    code: 'GH_HID_UNAVAILABLE',
    what: 'HID reader',
    failedState: 'unavailable',
    open: async () => {
      await source.open();
      // stop() came while the device was opening: it stays closed and the driver stays stopped.
      if (shell.stopped) {
        await source.close();
        return;
      }
      decoder.reset();
      shell.setState('online');
    },
    close: () => source.close(),
  });

  source.onClose((err) => shell.lost(`HID reader went away: ${err?.message ?? 'closed'}`, err?.message ?? 'device closed'));

  return { id, start: shell.start, stop: shell.stop, state: shell.state };
}

export const createDriver: DriverFactory<HidDeviceConfig> = (ctx) => createHidDriver(ctx);

export { checkHid } from './source.js';

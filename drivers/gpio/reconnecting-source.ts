import type { DriverContext } from '../../gateway/core/driver.js';
import type { DeviceState } from '../../gateway/core/types.js';
import { errorCodeOf, type ErrorCode } from '../../gateway/errors.js';
import type { ReaderMetrics } from './metrics.js';
import { Retrier } from './retry.js';

export interface ReconnectingSourceOptions {
  metrics: ReaderMetrics;
  /**
   * Code counted and logged when an open fails with an error that has no code
   * of its own (errorCodeOf gives GH_INTERNAL), and when the source is lost.
   */
  code: ErrorCode;
  /** Names the reader in the log line of a failed open: `${what} unavailable: <message>`. */
  what: string;
  /** State after a failed open: `unavailable` (library or device missing) or `offline`. */
  failedState: Extract<DeviceState, 'unavailable' | 'offline'>;
  /**
   * Opens the source and calls `setState('online')` once it is up (the
   * driver decides, e.g. not when stop() came during the open). A rejection
   * is retried with backoff.
   */
  open: () => Promise<void>;
  /** Releases the source on stop(). */
  close: () => Promise<void>;
}

/** The lifecycle half of a Driver, plus what the driver needs to report into it. */
export interface ReconnectingSource {
  start: () => Promise<void>;
  stop: () => Promise<void>;
  state: () => DeviceState;
  /** Records the state and publishes `device.status`. */
  setState: (next: DeviceState, reason?: string) => void;
  /** The source closed under the driver: goes `offline` and reopens with backoff. Ignored once stopped. */
  lost: (message: string, reason: string) => void;
  /** True from stop() until the next start(): a source closing now was asked to. */
  readonly stopped: boolean;
}

/**
 * The start / stop / reopen-with-backoff shell of a reader whose device can
 * fail to open or vanish (HID, serial): DESIGN.md "a driver that fails is
 * restarted with backoff, never left dead". The driver keeps the decoding and
 * the source; this keeps the state, the retries and their logs and metrics.
 */
export function createReconnectingSource(ctx: Pick<DriverContext<{ id: string }>, 'config' | 'bus' | 'log' | 'clock'>, options: ReconnectingSourceOptions): ReconnectingSource {
  const { bus, log, clock } = ctx;
  const id = ctx.config.id;
  const { metrics, code: fallbackCode } = options;
  let state: DeviceState = 'stopped';
  let stopped = true;

  const setState = (next: DeviceState, reason?: string) => {
    state = next;
    bus.emit('device.status', { deviceId: id, state: next, ...(reason ? { reason } : {}), at: clock.now() });
  };

  const retrier = new Retrier({
    attempt: options.open,
    onError: (err, retryInMs) => {
      const code = errorCodeOf(err) === 'GH_INTERNAL' ? fallbackCode : errorCodeOf(err);
      metrics.rejects.inc({ device: id, code });
      log.warn({ code, retryInMs }, `${options.what} unavailable: ${(err as Error).message}`);
      setState(options.failedState, (err as Error).message);
    },
  });

  return {
    async start() {
      stopped = false;
      setState('starting');
      await retrier.start();
    },
    async stop() {
      stopped = true;
      retrier.stop();
      await options.close();
      setState('stopped');
    },
    state: () => state,
    setState,
    lost(message, reason) {
      if (stopped) return;
      log.warn({ code: fallbackCode }, message);
      setState('offline', reason);
      retrier.retryLater();
    },
    get stopped() {
      return stopped;
    },
  };
}

import type { Bus } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/log.js';
import { errorCodeOf } from '../errors.js';

export interface SupervisorOptions {
  bus: Bus;
  log: Logger;
  clock: Clock;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (code: string) => void;
}

/**
 * Keeps a driver alive: a `start()` that throws, or a driver that reports
 * `failed`, is restarted with exponential backoff and jitter, forever
 * (DESIGN.md: "a driver that fails is restarted with backoff, never left dead").
 */
export class DriverSupervisor {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    readonly driver: Driver,
    private readonly options: SupervisorOptions,
  ) {
    this.unsubscribe = options.bus.on('device.status', (s) => {
      if (s.deviceId === driver.id && s.reader === undefined && s.state === 'failed' && !this.stopped) this.scheduleRestart(s.reason ?? 'driver reported failed');
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.driver.start();
      this.attempt = 0;
    } catch (err) {
      const code = errorCodeOf(err);
      this.options.onError?.(code);
      this.options.log.error({ code, err, device: this.driver.id }, 'driver failed to start; retrying with backoff');
      this.options.bus.emit('device.status', { deviceId: this.driver.id, state: 'failed', reason: (err as Error).message, at: this.options.clock.now() });
    }
  }

  private scheduleRestart(reason: string): void {
    if (this.timer) return;
    const base = this.options.initialBackoffMs ?? 1000;
    const cap = this.options.maxBackoffMs ?? 60_000;
    const delay = Math.min(cap, base * 2 ** this.attempt) * (0.5 + Math.random() * 0.5);
    this.attempt++;
    this.options.log.warn({ device: this.driver.id, reason, attempt: this.attempt, delayMs: Math.round(delay) }, 'restarting driver');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      void this.driver
        .stop()
        .catch(() => undefined)
        .then(() => this.start());
    }, delay);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe();
    await this.driver.stop();
  }
}

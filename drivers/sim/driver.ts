import { sharedCounter } from '../../gateway/health/metrics.js';
import type { Driver, DriverContext, LaneFeedback } from '../../gateway/core/driver.js';
import type { DeviceState } from '../../gateway/core/types.js';
import type { SimDeviceConfig } from './config.js';

/**
 * An in-process simulated reader for the built-in demo: presents the
 * configured credentials in turn at `ratePerSecond`, and records the feedback
 * it gets back. Hardware-free, so `npm start` works on any machine.
 */
export interface SimReaderDriver extends Driver {
  /** Presents one credential now (tests and the demo's scripted scenes). */
  present(value: string): void;
  readonly feedbackReceived: number;
}

export function createDriver(ctx: DriverContext<SimDeviceConfig>): SimReaderDriver {
  const { config, bus, clock } = ctx;
  const feedbackCounter = sharedCounter(ctx.metrics, {
    name: 'gatehouse_sim_feedback_total',
    help: 'Decisions shown on simulated readers, by result.',
    labelNames: ['device', 'result'],
  });
  let state: DeviceState = 'stopped';
  let timer: NodeJS.Timeout | undefined;
  let next = 0;
  let feedbackReceived = 0;

  const present = (value: string) => {
    bus.emit('credential', {
      deviceId: config.id,
      credential: { kind: value.startsWith('qr:') ? 'barcode' : 'card', value: value.startsWith('qr:') ? value.slice(3) : value },
      at: clock.now(),
      monoAt: clock.monotonic(),
    });
  };

  const setState = (s: DeviceState) => {
    state = s;
    bus.emit('device.status', { deviceId: config.id, state: s, at: clock.now() });
  };

  return {
    id: config.id,
    async start() {
      setState('online');
      if (config.ratePerSecond > 0) {
        timer = setInterval(() => {
          const value = config.credentials[next % config.credentials.length]!;
          next++;
          present(value);
        }, 1000 / config.ratePerSecond);
        timer.unref();
      }
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      setState('stopped');
    },
    state: () => state,
    feedback(_reader: string | undefined, fb: LaneFeedback) {
      feedbackReceived++;
      feedbackCounter.inc({ device: config.id, result: fb.decision.result });
    },
    present,
    get feedbackReceived() {
      return feedbackReceived;
    },
  };
}

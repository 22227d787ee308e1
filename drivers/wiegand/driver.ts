import type { Driver, DriverContext, DriverFactory, LaneFeedback } from '../../gateway/core/driver.js';
import type { Credential, DeviceState } from '../../gateway/core/types.js';
import { errorCodeOf, type ErrorCode } from '../../gateway/errors.js';
import { readerMetrics } from '../gpio/metrics.js';
import { createPinIO, type LineRequest, type PinIO } from '../gpio/pinio.js';
import { Retrier } from '../gpio/retry.js';
import { BitAssembler, type AssembledFrame } from './assembler.js';
import type { WiegandDeviceConfig } from './config.js';
import { classifyFrame } from './decode.js';
import { PinEntry } from './keypad.js';

export interface WiegandDeps {
  /** Replaces the PinIO the config names (tests, simulations). */
  pinio?: PinIO;
}

/**
 * A Wiegand reader on two GPIO lines: edges -> frames (assembler.ts) -> keys,
 * PINs or cards (decode.ts, formats.ts) -> `credential` on the bus. Rejected
 * frames are logged, counted by code and never become credentials.
 */
export function createWiegandDriver(ctx: DriverContext<WiegandDeviceConfig>, deps: WiegandDeps = {}): Driver {
  const { config, bus, log, clock } = ctx;
  const id = config.id;
  const metrics = readerMetrics(ctx.metrics);
  let state: DeviceState = 'stopped';
  let pinio: PinIO | undefined;
  const unwatch: Array<() => void> = [];
  const outputTimers = new Map<string, NodeJS.Timeout>();
  const pins = new PinEntry({ maxLength: config.pinMaxLength, timeoutMs: config.pinTimeoutMs });

  const setState = (next: DeviceState, reason?: string) => {
    state = next;
    bus.emit('device.status', { deviceId: id, state: next, ...(reason ? { reason } : {}), at: clock.now() });
  };
  const reject = (code: ErrorCode, result: string, detail: string, extra: Record<string, unknown> = {}) => {
    metrics.frames.inc({ device: id, driver: 'wiegand', result });
    metrics.rejects.inc({ device: id, code });
    log.warn({ code, ...extra }, `wiegand frame rejected: ${detail}`);
  };
  const publish = (credential: Credential) => {
    bus.emit('credential', { deviceId: id, credential, at: clock.now(), monoAt: clock.monotonic() });
  };

  const onFrame = (frame: AssembledFrame) => {
    if (frame.kind === 'noise') return reject('GH_WIEGAND_NOISE', 'noise', frame.detail, { bits: frame.bits });
    // A data line still low once the lines went idle is stuck or shorted: whatever was assembled is not trustworthy.
    for (const line of ['d0', 'd1'] as const) {
      if (frame.endedBy === 'idle' && pinio?.read(line) === 0) return reject('GH_WIEGAND_NOISE', 'noise', `line ${line} is held low (stuck, shorted or miswired)`, { bits: frame.bits.length });
    }
    const c = classifyFrame(frame.bits, { keypad: config.keypad, allowRaw: config.allowRaw, ...(config.formats ? { formats: config.formats } : {}) });
    if (c.kind === 'reject') return reject(c.code, c.reason, c.detail, { bits: frame.bits.length, ...(c.format ? { format: c.format } : {}) });
    if (c.kind === 'card') {
      metrics.frames.inc({ device: id, driver: 'wiegand', result: 'card' });
      log.debug({ format: c.result.format, bits: c.result.bits }, 'wiegand card');
      return publish(c.result.credential);
    }
    metrics.frames.inc({ device: id, driver: 'wiegand', result: 'key' });
    const ev = pins.key(c.key, frame.endAt);
    if (ev && 'pin' in ev) {
      metrics.frames.inc({ device: id, driver: 'wiegand', result: 'pin' });
      publish({ kind: 'pin', value: ev.pin });
    } else if (ev) {
      metrics.frames.inc({ device: id, driver: 'wiegand', result: `pin_${ev.discarded}` });
      log.info({ digits: ev.length, why: ev.discarded }, 'partial PIN discarded');
    }
  };
  const assembler = new BitAssembler({ frameTimeoutMs: config.frameTimeoutMs, maxBits: config.maxFrameBits, minBitIntervalMs: config.minBitIntervalMs }, onFrame);

  const lines = (): LineRequest[] => {
    const out: LineRequest[] = [
      { name: 'd0', direction: 'in', edge: 'falling', initial: 1, ...(config.d0.gpio !== undefined ? { gpio: config.d0.gpio } : {}) },
      { name: 'd1', direction: 'in', edge: 'falling', initial: 1, ...(config.d1.gpio !== undefined ? { gpio: config.d1.gpio } : {}) },
    ];
    for (const name of ['led', 'buzzer'] as const) {
      const l = config[name];
      if (l) out.push({ name, direction: 'out', initial: l.activeLow ? 1 : 0, ...(l.gpio !== undefined ? { gpio: l.gpio } : {}) });
    }
    return out;
  };

  const retrier = new Retrier({
    attempt: async () => {
      const io = deps.pinio ?? (await createPinIO(config.pins, clock));
      await io.open(lines());
      pinio = io;
      unwatch.push(
        io.watch('d0', (v, at) => {
          if (v === 0) assembler.bit(0, at);
        }),
        io.watch('d1', (v, at) => {
          if (v === 0) assembler.bit(1, at);
        }),
      );
      setState('online');
    },
    onError: (err, retryInMs) => {
      const code = errorCodeOf(err) === 'GH_INTERNAL' ? 'GH_GPIO_UNAVAILABLE' : errorCodeOf(err);
      metrics.rejects.inc({ device: id, code });
      log.warn({ code, retryInMs }, `wiegand reader unavailable: ${(err as Error).message}`);
      setState('unavailable', (err as Error).message);
    },
  });

  /** Drives an output on for `ms`, then off (the reader's LED or beeper). */
  const pulse = (name: 'led' | 'buzzer', ms: number) => {
    const line = config[name];
    if (!line || !pinio || ms <= 0) return;
    const io = pinio;
    io.write(name, line.activeLow ? 0 : 1);
    const prev = outputTimers.get(name);
    if (prev) clearTimeout(prev);
    outputTimers.set(
      name,
      setTimeout(() => {
        outputTimers.delete(name);
        io.write(name, line.activeLow ? 1 : 0);
      }, ms),
    );
  };

  return {
    id,
    async start() {
      setState('starting');
      await retrier.start();
    },
    async stop() {
      retrier.stop();
      assembler.stop();
      pins.reset();
      for (const t of outputTimers.values()) clearTimeout(t);
      outputTimers.clear();
      unwatch.splice(0).forEach((u) => u());
      const io = pinio;
      pinio = undefined;
      await io?.close();
      setState('stopped');
    },
    state: () => state,
    feedback(_reader: string | undefined, fb: LaneFeedback) {
      const ms = fb.pulseMs > 0 ? fb.pulseMs : config.feedbackMs;
      if (fb.decision.result === 'granted') pulse('led', ms);
      else pulse('buzzer', config.feedbackMs);
    },
  };
}

export const createDriver: DriverFactory<WiegandDeviceConfig> = (ctx) => createWiegandDriver(ctx);

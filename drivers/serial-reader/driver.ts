import type { Driver, DriverContext, DriverFactory } from '../../gateway/core/driver.js';
import { readerMetrics } from '../gpio/metrics.js';
import { createReconnectingSource } from '../gpio/reconnecting-source.js';
import { openSerialTransport, type SerialOptions, type Transport } from '../serial/transport.js';
import type { SerialReaderDeviceConfig } from './config.js';
import { decodeSerialFrames } from './decode.js';

export interface SerialReaderDeps {
  /** Replaces serialport (tests with in-memory transports). */
  openTransport?: (options: SerialOptions) => Promise<Transport>;
}

/**
 * A reader that sends card numbers as simple frames over a serial port:
 * bytes -> decodeSerialFrames -> `credential`. Bytes of a frame left
 * unfinished for `frameGapMs` are dropped (and counted), which also
 * resynchronises fixed-length framing after a lost byte.
 */
export function createSerialReaderDriver(ctx: DriverContext<SerialReaderDeviceConfig>, deps: SerialReaderDeps = {}): Driver {
  const { config, bus, log, clock } = ctx;
  const id = config.id;
  const metrics = readerMetrics(ctx.metrics);
  const open = deps.openTransport ?? openSerialTransport;
  let transport: Transport | undefined;
  let rest: Buffer = Buffer.alloc(0);
  let lastByteAt = -Infinity;

  const frameError = (detail: string, raw: Buffer) => {
    metrics.frames.inc({ device: id, driver: 'serial-reader', result: 'bad_frame' });
    metrics.rejects.inc({ device: id, code: 'GH_SERIAL_READER_FRAME' });
    log.warn({ code: 'GH_SERIAL_READER_FRAME', bytes: raw.length, hex: raw.subarray(0, 32).toString('hex') }, `serial reader frame rejected: ${detail}`);
  };

  const onData = (chunk: Buffer) => {
    const now = clock.monotonic();
    if (rest.length > 0 && now - lastByteAt > config.frameGapMs) {
      frameError(`${rest.length} byte(s) of an unfinished frame dropped after ${config.frameGapMs} ms of silence`, rest);
      rest = Buffer.alloc(0);
    }
    lastByteAt = now;
    const r = decodeSerialFrames(rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk, config.framing);
    rest = r.rest;
    for (const e of r.errors) frameError(e.detail, e.raw);
    for (const f of r.frames) {
      metrics.frames.inc({ device: id, driver: 'serial-reader', result: config.kind });
      bus.emit('credential', { deviceId: id, credential: { kind: config.kind, value: f.value }, at: clock.now(), monoAt: clock.monotonic() });
    }
  };

  const shell = createReconnectingSource(ctx, {
    metrics,
    code: 'GH_SERIAL_OPEN',
    what: 'serial reader',
    failedState: 'offline',
    open: async () => {
      const t = await open({ path: config.path, baudRate: config.baudRate, dataBits: config.dataBits, parity: config.parity, stopBits: config.stopBits });
      if (shell.stopped) {
        await t.close();
        return;
      }
      transport = t;
      rest = Buffer.alloc(0);
      t.onData(onData);
      t.onClose((err) => {
        if (transport !== t) return;
        transport = undefined;
        shell.lost(`serial reader port closed: ${err?.message ?? 'closed'}`, err?.message ?? 'port closed');
      });
      shell.setState('online');
    },
    close: async () => {
      const t = transport;
      transport = undefined;
      await t?.close();
    },
  });

  return { id, start: shell.start, stop: shell.stop, state: shell.state };
}

export const createDriver: DriverFactory<SerialReaderDeviceConfig> = (ctx) => createSerialReaderDriver(ctx);

import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { GatehouseError } from '../../gateway/errors.js';
import type { SerialOptions, Transport } from './transport.js';

/**
 * A serial port (or PTY) through Node's own tty handle, for worker threads.
 *
 * The serialport package cannot run in a worker thread: its native poller
 * registers the port on the process's main libuv loop, whatever thread opened
 * it, and the main thread then calls into the worker's V8 isolate (a fatal
 * "Entering the V8 API without proper locking" abort, seen here). Node's
 * `tty.ReadStream` is a libuv tty handle on the loop of the thread that made
 * it, readable and writable, with no translation of its own once the line is
 * raw.
 *
 * The line settings (speed, framing, raw mode) are set with stty(1) from
 * coreutils, on every Debian and Raspberry Pi OS: Node has no termios call.
 * Settings belong to the device, not to the descriptor, so they hold for the
 * descriptor opened before them. Linux only, like the rest of the worker path.
 */

/** stty arguments for `options`: raw 8N1-style framing at the given speed, no echo, no flow control, modem lines ignored. */
export function sttyArgs(path: string, options: SerialOptions): string[] {
  const dataBits = options.dataBits ?? 8;
  const parity = options.parity ?? 'none';
  return [
    '-F',
    path,
    String(options.baudRate),
    'raw',
    '-echo',
    '-echoe',
    '-echok',
    '-echonl',
    '-iexten',
    `cs${dataBits}`,
    ...(parity === 'none' ? ['-parenb'] : parity === 'even' ? ['parenb', '-parodd'] : ['parenb', 'parodd']),
    (options.stopBits ?? 1) === 2 ? 'cstopb' : '-cstopb',
    'clocal',
    'cread',
    '-crtscts',
    '-ixon',
    '-ixoff',
  ];
}

function configure(path: string, options: SerialOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('stty', sttyArgs(path, options), { timeout: 5000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'stty(1) is not installed (coreutils)' : String(stderr).trim() || err.message;
      reject(new GatehouseError('GH_SERIAL_OPEN', `cannot set up serial port ${path} at ${options.baudRate} baud: ${why}`, { path }, { cause: err }));
    });
  });
}

/** Most bytes kept for a driver that has not registered its listener yet (one OSDP frame is at most 1,440). */
const EARLY_BYTES_MAX = 64 * 1024;

export async function openTtyTransport(options: SerialOptions): Promise<Transport> {
  let fd: number;
  try {
    fd = openSync(options.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (err) {
    throw new GatehouseError('GH_SERIAL_OPEN', `cannot open serial port ${options.path}: ${(err as Error).message}`, { path: options.path }, { cause: err });
  }
  let stream: ReadStream;
  try {
    await configure(options.path, options);
    stream = new ReadStream(fd);
  } catch (err) {
    closeSync(fd);
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError('GH_SERIAL_OPEN', `serial port ${options.path} is not a terminal device: ${(err as Error).message}`, { path: options.path }, { cause: err });
  }
  let open = true;
  let closeListener: ((err?: Error) => void) | undefined;
  const closed = (err?: Error) => {
    if (!open) return;
    open = false;
    closeListener?.(err);
  };
  // Read from the start: a paused stream never reads, and so never sees the hang-up (EIO when the
  // PTY's other end closes, EIO/ENXIO when a USB adapter is unplugged). Bytes that arrive before the
  // driver listens wait for it, up to EARLY_BYTES_MAX.
  let dataListener: ((chunk: Buffer) => void) | undefined;
  let early: Buffer[] = [];
  let earlyBytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (dataListener) return dataListener(chunk);
    if (earlyBytes + chunk.length > EARLY_BYTES_MAX) return;
    early.push(chunk);
    earlyBytes += chunk.length;
  });
  stream.on('error', (err) => closed(err));
  stream.on('close', () => closed());
  stream.on('end', () => closed());
  return {
    write: (data) =>
      new Promise((resolve, reject) => {
        if (!open) return reject(new GatehouseError('GH_SERIAL_OPEN', `serial port ${options.path} is closed`, { path: options.path }));
        stream.write(data, (err) => (err ? reject(err) : resolve()));
      }),
    onData: (listener) => {
      dataListener = listener;
      const waiting = early;
      early = [];
      earlyBytes = 0;
      for (const chunk of waiting) listener(chunk);
    },
    onClose: (listener) => {
      closeListener = listener;
    },
    // The kernel's queues cannot be dropped without tcflush(3), which Node does not expose. The
    // OSDP line, the only user of this transport, never flushes: it resynchronises on each frame's SOM.
    flush: async () => undefined,
    close: () =>
      new Promise((resolve) => {
        if (stream.destroyed) return resolve();
        stream.once('close', () => resolve());
        stream.destroy();
      }),
    get isOpen() {
      return open;
    },
  };
}

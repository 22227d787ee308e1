import { readSync, writeSync } from 'node:fs';

/**
 * Serial reads and writes on the event loop instead of libuv's thread pool.
 *
 * serialport's Unix binding (@serialport/bindings-cpp, unix-read.js and
 * unix-write.js) opens the tty with O_NONBLOCK and then reads it with the
 * asynchronous `fs.read`: every chunk is a round trip through the thread pool,
 * and after each chunk a second trip comes back with EAGAIN before it waits
 * for the poller. On an OSDP line that is two pool hops per reply, and with
 * sixteen buses busy the pool (four threads) is a queue of its own. Measured
 * by `--cpu-prof` during the stadium surge: about two thirds of the gateway's
 * CPU per OSDP exchange was this read path.
 *
 * The fd is non-blocking, so `readSync`/`writeSync` return at once: with data,
 * or with EAGAIN, in which case we wait for the binding's own poller (uv_poll
 * on the fd, in the event loop) exactly as the binding does. Error
 * classification (`disconnect`, `canceled`) is the binding's, so the
 * serialport stream reacts to an unplugged adapter as before.
 */

/** The part of an open Unix port binding (bindings-cpp `LinuxPortBinding`/`DarwinPortBinding`) this relies on. */
export interface UnixPortBinding {
  fd: number | null;
  readonly isOpen: boolean;
  poller?: { once(event: 'readable' | 'writable', listener: (err?: Error | null) => void): unknown };
  writeOperation?: Promise<void> | null;
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buffer: Buffer): Promise<void>;
}

/** A binding's static side: what `new SerialPort({ binding })` calls to open a port. */
export interface PortBindingFactory<P> {
  open(options: never): Promise<P>;
}

const RETRY = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
const DISCONNECT = new Set(['EBADF', 'ENXIO', 'UNKNOWN']);

type IoError = Error & { code?: string; errno?: number; disconnect?: boolean; canceled?: boolean };

function notOpen(canceled: boolean): IoError {
  const err: IoError = new Error('Port is not open');
  // `canceled` tells the serialport stream this is a close, not an unplugged device (bindings-cpp BindingsError).
  if (canceled) err.canceled = true;
  return err;
}

function classify(err: IoError): IoError {
  if ((err.code !== undefined && DISCONNECT.has(err.code)) || err.errno === -1) err.disconnect = true;
  return err;
}

function ready(port: UnixPortBinding, event: 'readable' | 'writable'): Promise<void> {
  return new Promise((resolve, reject) => {
    port.poller!.once(event, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Ports whose last read returned less than it asked for: the tty was empty
 * then, so the next read waits on the poller first instead of making a
 * `readSync` that would throw EAGAIN (a syscall and an Error with its stack,
 * once per reply on every OSDP exchange). The poller is level-triggered, so
 * bytes that came in between wake it at once.
 */
const drained = new WeakSet<UnixPortBinding>();

/** Reads whatever the tty has now, waiting on the poller when it has nothing. */
export async function readNonBlocking(port: UnixPortBinding, buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }> {
  if (drained.delete(port) && port.isOpen) await ready(port, 'readable');
  for (;;) {
    if (!port.isOpen || port.fd === null) throw notOpen(true);
    let bytesRead: number;
    try {
      bytesRead = readSync(port.fd, buffer, offset, length, null);
    } catch (e) {
      const err = e as IoError;
      if (err.code === undefined || !RETRY.has(err.code)) throw classify(err);
      await ready(port, 'readable');
      continue;
    }
    // The binding re-reads on 0 bytes; on a tty that means "nothing yet", so wait for the poller rather than spin.
    if (bytesRead > 0) {
      if (bytesRead < length) drained.add(port);
      return { bytesRead, buffer };
    }
    await ready(port, 'readable');
  }
}

/** Writes all of `buffer`, waiting on the poller whenever the tty's output queue is full. */
export async function writeNonBlocking(port: UnixPortBinding, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    if (!port.isOpen || port.fd === null) throw notOpen(false);
    try {
      offset += writeSync(port.fd, buffer, offset, buffer.length - offset);
    } catch (e) {
      const err = e as IoError;
      if (err.code === undefined || !RETRY.has(err.code)) throw classify(err);
      await ready(port, 'writable');
    }
  }
}

/** Gives an open port event-loop reads and writes; a port without a numeric fd and a poller (not Unix) is left as it is. */
export function useEventLoopIo<P extends UnixPortBinding>(port: P): P {
  if (typeof port.fd !== 'number' || port.poller === undefined) return port;
  port.read = (buffer, offset, length) => readNonBlocking(port, buffer, offset, length);
  port.write = (buffer) => {
    // `writeOperation` is what the binding's drain() awaits.
    const op = writeNonBlocking(port, buffer).finally(() => {
      if (port.writeOperation === op) port.writeOperation = null;
    });
    port.writeOperation = op;
    return op;
  };
  return port;
}

/** A binding whose ports use event-loop I/O; everything else is the original binding's. */
export function eventLoopBinding<B extends PortBindingFactory<UnixPortBinding>>(binding: B): B {
  return Object.assign(Object.create(binding) as B, {
    open: async (options: never) => useEventLoopIo(await binding.open(options)),
  });
}

import { GatehouseError } from '../../gateway/errors.js';
import { eventLoopBinding, type PortBindingFactory, type UnixPortBinding } from './event-loop-io.js';

/**
 * A byte pipe to a device (STYLE.md: drivers depend on interfaces, never on a
 * concrete library in their core). Implemented over serialport for real
 * ports and PTYs, and by in-memory fakes in unit tests.
 */
export interface Transport {
  /** Queues bytes for the wire; resolves when the OS accepted them. */
  write(data: Buffer): Promise<void>;
  /** Registers the receiver of incoming bytes (one receiver: the driver). */
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once when the port closes or fails (unplugged USB adapter, PTY peer gone). */
  onClose(listener: (err?: Error) => void): void;
  /** Drops bytes buffered but not yet read or written (after garbage, before a retry). */
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

export interface SerialOptions {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
}

/** Wire time of `bytes` at `baudRate`, 10 bits per byte (start + 8 data + stop). */
export function wireTimeMs(bytes: number, baudRate: number): number {
  return (bytes * 10 * 1000) / baudRate;
}

/**
 * Opens a serial port (or PTY) with the serialport package, loaded lazily so a
 * gateway without serial devices never loads the native binding.
 */
export async function openSerialTransport(options: SerialOptions): Promise<Transport> {
  const { SerialPort } = await import('serialport');
  // Reads and writes on the event loop, not the thread pool (event-loop-io.ts says why). SerialPort's
  // constructor passes `binding` through to SerialPortStream at run time; its own options type leaves it out.
  const binding = eventLoopBinding(SerialPort.binding as unknown as PortBindingFactory<UnixPortBinding>);
  const port = new SerialPort({
    binding,
    path: options.path,
    baudRate: options.baudRate,
    dataBits: options.dataBits ?? 8,
    parity: options.parity ?? 'none',
    stopBits: options.stopBits ?? 1,
    autoOpen: false,
  } as ConstructorParameters<typeof SerialPort>[0]);
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err) reject(new GatehouseError('GH_SERIAL_OPEN', `cannot open serial port ${options.path}: ${err.message}`, { path: options.path }, { cause: err }));
      else resolve();
    });
  });
  let closeListener: ((err?: Error) => void) | undefined;
  let closed = false;
  const notifyClose = (err?: Error) => {
    if (closed) return;
    closed = true;
    closeListener?.(err);
  };
  port.on('close', (err: Error | null) => notifyClose(err ?? undefined));
  port.on('error', (err: Error) => notifyClose(err));
  return {
    write: (data) =>
      new Promise((resolve, reject) => {
        port.write(data, (err) => (err ? reject(err) : resolve()));
      }),
    onData: (listener) => {
      port.on('data', listener);
    },
    onClose: (listener) => {
      closeListener = listener;
    },
    flush: () => new Promise((resolve) => port.flush(() => resolve())),
    close: () =>
      new Promise((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
    get isOpen() {
      return port.isOpen;
    },
  };
}

/**
 * Lists serial ports. `SerialPort.list()` spawns udevadm on Linux; where that
 * is missing (containers, minimal images) the list is "not available", not an error.
 */
export async function listSerialPorts(): Promise<{ available: true; ports: Array<{ path: string; manufacturer?: string }> } | { available: false; reason: string }> {
  try {
    const { SerialPort } = await import('serialport');
    const ports = await SerialPort.list();
    return { available: true, ports: ports.map((p) => ({ path: p.path, ...(p.manufacturer ? { manufacturer: p.manufacturer } : {}) })) };
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
}

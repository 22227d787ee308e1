import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readerContext } from '../../test/readers/context.js';
import { GatehouseError } from '../../gateway/errors.js';
import type { Transport } from '../serial/transport.js';
import { serialReaderDeviceSchema } from './config.js';
import { createSerialReaderDriver } from './driver.js';

/** An in-memory transport this test drives: `receive` plays bytes from the reader, `drop` unplugs it. */
function memoryTransport() {
  let data: (b: Buffer) => void = () => {};
  let close: (err?: Error) => void = () => {};
  let open = true;
  const t: Transport = {
    write: async () => {},
    onData: (l) => (data = l),
    onClose: (l) => (close = l),
    flush: async () => {},
    close: async () => {
      open = false;
    },
    get isOpen() {
      return open;
    },
  };
  return { t, receive: (s: string) => data(Buffer.from(s, 'latin1')), drop: () => close(new Error('device reports readiness to read but returned no data')) };
}

describe('serial reader driver', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const config = serialReaderDeviceSchema.parse({ id: 'sr1', driver: 'serial-reader', path: '/dev/ttyX', framing: { delimiter: { kind: 'fixed', length: 4 }, encoding: 'ascii-decimal', output: 'text' }, frameGapMs: 100 });

  it('drops a partial frame after frameGapMs of silence so fixed-length framing resynchronises', async () => {
    const t = readerContext(config);
    const m = memoryTransport();
    const driver = createSerialReaderDriver(t.ctx, { openTransport: async () => m.t });
    await driver.start();
    m.receive('12');
    vi.advanceTimersByTime(500);
    m.receive('3456');
    m.receive('78');
    vi.advanceTimersByTime(20);
    m.receive('90');
    expect(t.seen('credential').map((c) => c.credential.value)).toEqual(['3456', '7890']);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'sr1', code: 'GH_SERIAL_READER_FRAME' })).toBe(1);
    await driver.stop();
  });

  it('goes offline when the port closes under it and reopens with backoff', async () => {
    const t = readerContext(config);
    const ports = [memoryTransport(), memoryTransport()];
    let opens = 0;
    const driver = createSerialReaderDriver(t.ctx, {
      openTransport: async () => {
        opens++;
        if (opens === 2) throw new GatehouseError('GH_SERIAL_OPEN', 'cannot open serial port /dev/ttyX: ENOENT');
        return ports[opens === 1 ? 0 : 1]!.t;
      },
    });
    await driver.start();
    ports[0]!.drop();
    expect(driver.state()).toBe('offline');
    await vi.advanceTimersByTimeAsync(1000);
    expect(opens).toBe(2);
    expect(driver.state()).toBe('offline');
    await vi.advanceTimersByTimeAsync(2000);
    expect(opens).toBe(3);
    expect(driver.state()).toBe('online');
    ports[1]!.receive('4242');
    expect(t.seen('credential').map((c) => c.credential.value)).toEqual(['4242']);
    await driver.stop();
  });
});

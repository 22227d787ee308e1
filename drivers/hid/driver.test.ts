import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readerContext } from '../../test/readers/context.js';
import { GatehouseError } from '../../gateway/errors.js';
import { hidDeviceSchema } from './config.js';
import { typeReports } from './decode.js';
import { createHidDriver } from './driver.js';
import { checkHid, createNodeHidSource, pickDevice, type HidSource } from './source.js';

/** A HID source this test drives: `failures` opens fail first, then reports can be pushed. */
function fakeSource(failures: number) {
  let report: (r: Buffer) => void = () => {};
  let close: (err?: Error) => void = () => {};
  let opens = 0;
  const source: HidSource = {
    open: async () => {
      opens++;
      if (opens <= failures) throw new GatehouseError('GH_HID_UNAVAILABLE', 'no HID device matches 0c27:3bfa');
    },
    onReport: (l) => (report = l),
    onClose: (l) => (close = l),
    close: async () => {},
  };
  return { source, push: (reports: Buffer[]) => reports.forEach((r) => report(r)), unplug: () => close(new Error('device disconnected')), opens: () => opens };
}

describe('hid driver', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 3_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const config = hidDeviceSchema.parse({ id: 'desk1', driver: 'hid', vendorId: 0x0c27, productId: 0x3bfa });

  it('publishes a card credential on Enter and counts bad reports', async () => {
    const t = readerContext(config);
    const fake = fakeSource(0);
    const driver = createHidDriver(t.ctx, { source: fake.source });
    await driver.start();
    expect(driver.state()).toBe('online');
    fake.push(typeReports('0012345678'));
    fake.push([Buffer.from([0, 0, 0x2c, 0, 0, 0, 0, 0])]);
    expect(t.seen('credential')).toMatchObject([{ deviceId: 'desk1', credential: { kind: 'card', value: '0012345678' } }]);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'desk1', code: 'GH_HID_BAD_REPORT' })).toBe(1);
    await driver.stop();
  });

  it('reports unavailable with the reason, retries with backoff, and goes offline then back when unplugged', async () => {
    const t = readerContext(config);
    const fake = fakeSource(2);
    const driver = createHidDriver(t.ctx, { source: fake.source });
    await driver.start();
    expect(t.seen('device.status').at(-1)).toMatchObject({ state: 'unavailable', reason: expect.stringContaining('0c27:3bfa') });
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.opens()).toBe(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(driver.state()).toBe('online');
    fake.unplug();
    expect(driver.state()).toBe('offline');
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.opens()).toBe(4);
    expect(driver.state()).toBe('online');
    await driver.stop();
    expect(driver.state()).toBe('stopped');
  });

  it('stays stopped and closes the device when stop() comes while it is still opening', async () => {
    const t = readerContext(config);
    let finishOpen: () => void = () => {};
    let closes = 0;
    const source: HidSource = {
      open: () => new Promise<void>((resolve) => (finishOpen = resolve)),
      onReport: () => {},
      onClose: () => {},
      close: async () => {
        closes++;
      },
    };
    const driver = createHidDriver(t.ctx, { source });
    const starting = driver.start();
    await driver.stop();
    finishOpen();
    await starting;
    await vi.advanceTimersByTimeAsync(0);
    expect(driver.state()).toBe('stopped');
    expect(closes).toBe(2);
    expect(t.seen('device.status').at(-1)).toMatchObject({ state: 'stopped' });
  });

  it('needs vendor/product ids or a path in config', () => {
    expect(hidDeviceSchema.safeParse({ id: 'x', driver: 'hid', vendorId: 1 }).success).toBe(false);
    expect(hidDeviceSchema.safeParse({ id: 'x', driver: 'hid', path: '/dev/hidraw0' }).success).toBe(true);
  });
});

describe('node-hid source', () => {
  it('prefers the boot keyboard interface of a matching reader, or the serial asked for', () => {
    const devs = [
      { vendorId: 1, productId: 2, path: '/dev/hidraw0', usagePage: 0xff00, usage: 1, serialNumber: 'A' },
      { vendorId: 1, productId: 2, path: '/dev/hidraw1', usagePage: 1, usage: 6, serialNumber: 'A' },
      { vendorId: 1, productId: 2, path: '/dev/hidraw2', usagePage: 1, usage: 6, serialNumber: 'B' },
    ];
    expect(pickDevice(devs, { vendorId: 1, productId: 2 })?.path).toBe('/dev/hidraw1');
    expect(pickDevice(devs, { vendorId: 1, productId: 2, serialNumber: 'B' })?.path).toBe('/dev/hidraw2');
    expect(pickDevice(devs, { vendorId: 9, productId: 9 })).toBeUndefined();
    expect(pickDevice(devs, { path: '/dev/hidraw7' })?.path).toBe('/dev/hidraw7');
  });

  // No reader is plugged into CI machines; GATEHOUSE_TEST_HID=vid:pid names a real one.
  it.skipIf(process.env.GATEHOUSE_TEST_HID !== undefined)('reports GH_HID_UNAVAILABLE when no device matches', async () => {
    const src = createNodeHidSource({ vendorId: 0xfffe, productId: 0xfffd });
    await expect(src.open()).rejects.toMatchObject({ code: 'GH_HID_UNAVAILABLE', message: expect.stringContaining('fffe:fffd') });
    await src.close();
    const check = await checkHid({ vendorId: 0xfffe, productId: 0xfffd });
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/no HID device matches fffe:fffd|node-hid cannot be loaded/);
  });
});

import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';

/** The node-hid adapter against a stand-in for node-hid (no reader on CI). */
const state = vi.hoisted(() => ({
  devices: [] as Array<Record<string, unknown>>,
  openError: undefined as Error | undefined,
  opened: [] as Array<{ path: string; dev: EventEmitter & { close: () => Promise<void>; closed: boolean } }>,
}));
vi.mock('node-hid', () => ({
  devicesAsync: async () => state.devices,
  HIDAsync: {
    open: async (path: string) => {
      if (state.openError) throw state.openError;
      const dev = Object.assign(new EventEmitter(), {
        closed: false,
        close: async () => {
          dev.closed = true;
        },
      });
      state.opened.push({ path, dev });
      return dev;
    },
  },
}));

const { createNodeHidSource, checkHid } = await import('./source.js');

describe('node-hid source adapter', () => {
  const reader = { vendorId: 0x0c27, productId: 0x3bfa, path: '/dev/hidraw2', usagePage: 1, usage: 6 };

  it('opens the matching reader, forwards its reports and reports an unplug once', async () => {
    state.devices = [reader];
    state.openError = undefined;
    state.opened.length = 0;
    const src = createNodeHidSource({ vendorId: 0x0c27, productId: 0x3bfa });
    const reports: Buffer[] = [];
    const closes: Array<string | undefined> = [];
    src.onReport((r) => reports.push(r));
    src.onClose((e) => closes.push(e?.message));
    await src.open();
    const { path, dev } = state.opened[0]!;
    expect(path).toBe('/dev/hidraw2');
    dev.emit('data', Buffer.from([0, 0, 0x1e, 0, 0, 0, 0, 0]));
    dev.emit('error', new Error('could not read from HID device'));
    dev.emit('error', new Error('again'));
    expect(reports).toHaveLength(1);
    expect(closes).toEqual(['could not read from HID device']);
    expect(dev.closed).toBe(true);
    await src.close();
  });

  it('names the udev rule when the device cannot be opened for lack of permission', async () => {
    state.devices = [reader];
    state.openError = new Error('cannot open device with path /dev/hidraw2: Permission denied');
    const src = createNodeHidSource({ path: '/dev/hidraw2' });
    await expect(src.open()).rejects.toMatchObject({ code: 'GH_HID_UNAVAILABLE', message: expect.stringContaining('udev rule') });
  });

  it('doctor check finds the configured reader, and says when a path is not present', async () => {
    state.devices = [reader];
    expect(await checkHid({ vendorId: 0x0c27, productId: 0x3bfa })).toEqual({ ok: true, detail: 'found 0c27:3bfa at /dev/hidraw2' });
    expect(await checkHid({ path: '/dev/hidraw9' })).toMatchObject({ ok: false, detail: expect.stringContaining('1 HID device(s) visible') });
  });
});

describe('node-hid source adapter with a udev symlink', () => {
  it('finds the reader behind a symlink path', async () => {
    const { mkdtempSync, symlinkSync, writeFileSync, rmSync, realpathSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'gh-hid-'));
    try {
      const node = join(dir, 'hidraw5');
      writeFileSync(node, '');
      symlinkSync(node, join(dir, 'gatehouse-desk-reader'));
      state.devices = [{ vendorId: 1, productId: 2, path: realpathSync(node) }];
      expect(await checkHid({ path: join(dir, 'gatehouse-desk-reader') })).toMatchObject({ ok: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

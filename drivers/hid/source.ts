import { realpathSync } from 'node:fs';
import type * as NodeHidModule from 'node-hid';
import type { HIDAsync } from 'node-hid';
import { GatehouseError } from '../../gateway/errors.js';
import type { HidDeviceConfig } from './config.js';

/** Where a HID reader's input reports come from (node-hid, or a fake in tests). */
export interface HidSource {
  /** Opens the device; rejects with GH_HID_UNAVAILABLE (missing library, device or permission). */
  open(): Promise<void>;
  onReport(listener: (report: Buffer) => void): void;
  /** Called when the device goes away (unplugged) or fails. */
  onClose(listener: (err?: Error) => void): void;
  close(): Promise<void>;
}

type Match = Pick<HidDeviceConfig, 'vendorId' | 'productId' | 'serialNumber' | 'path'>;

interface HidInfo {
  vendorId: number;
  productId: number;
  path?: string | undefined;
  serialNumber?: string | undefined;
  usagePage?: number | undefined;
  usage?: number | undefined;
}

/** A udev symlink (`/dev/gatehouse-desk-reader`) resolved to its hidraw node, or the path itself. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

const hex4 = (n: number | undefined) => (n === undefined ? '?' : n.toString(16).padStart(4, '0'));

/**
 * Picks the device to open: by path, else by vendor/product (and serial). A
 * reader often has several HID interfaces; the boot keyboard one (usage page
 * 1, usage 6) is preferred.
 */
export function pickDevice(devices: readonly HidInfo[], match: Match): HidInfo | undefined {
  if (match.path) {
    const real = realPath(match.path);
    return devices.find((d) => d.path === match.path || d.path === real) ?? { vendorId: 0, productId: 0, path: match.path };
  }
  const candidates = devices.filter((d) => d.vendorId === match.vendorId && d.productId === match.productId && (match.serialNumber === undefined || d.serialNumber === match.serialNumber));
  return candidates.find((d) => d.usagePage === 1 && d.usage === 6) ?? candidates[0];
}

function describeMatch(match: Match): string {
  return match.path ? `path ${match.path}` : `${hex4(match.vendorId)}:${hex4(match.productId)}${match.serialNumber ? ` serial ${match.serialNumber}` : ''}`;
}

type NodeHid = typeof NodeHidModule;

async function loadNodeHid(): Promise<NodeHid> {
  try {
    return await import('node-hid');
  } catch (err) {
    throw new GatehouseError('GH_HID_UNAVAILABLE', `node-hid cannot be loaded (${(err as Error).message}); HID readers are disabled`, {}, { cause: err });
  }
}

/**
 * A reader through node-hid (hidraw backend on Linux), loaded lazily. Opening
 * needs read access to /dev/hidrawN: see the udev rule in docs/readers.md.
 */
export function createNodeHidSource(match: Match): HidSource {
  let device: HIDAsync | undefined;
  let reportListener: (report: Buffer) => void = () => {};
  let closeListener: (err?: Error) => void = () => {};
  return {
    async open() {
      const hid = await loadNodeHid();
      const found = pickDevice(await hid.devicesAsync(), match);
      if (!found?.path) throw new GatehouseError('GH_HID_UNAVAILABLE', `no HID device matches ${describeMatch(match)} (unplugged, or not visible: check lsusb and the udev rule)`);
      try {
        device = await hid.HIDAsync.open(found.path);
      } catch (err) {
        const msg = (err as Error).message;
        const hint = /permission|access/i.test(msg) ? ' (permission denied: install the udev rule from docs/readers.md and replug)' : '';
        throw new GatehouseError('GH_HID_UNAVAILABLE', `cannot open HID device ${found.path}: ${msg}${hint}`, { path: found.path }, { cause: err });
      }
      const d = device;
      d.on('data', (data: Buffer) => reportListener(data));
      d.on('error', (err: Error) => {
        if (device !== d) return;
        device = undefined;
        void d.close().catch(() => {});
        closeListener(err);
      });
    },
    onReport(listener) {
      reportListener = listener;
    },
    onClose(listener) {
      closeListener = listener;
    },
    async close() {
      const d = device;
      device = undefined;
      await d?.close().catch(() => {});
    },
  };
}

/** `doctor` hook: is node-hid usable, and is the configured reader visible? */
export async function checkHid(config: Match): Promise<{ ok: boolean; detail: string }> {
  let hid: NodeHid;
  try {
    hid = await loadNodeHid();
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
  let devices: HidInfo[];
  try {
    devices = await hid.devicesAsync();
  } catch (err) {
    return { ok: false, detail: `cannot list HID devices: ${(err as Error).message}` };
  }
  const found = pickDevice(devices, config);
  const listed = (p: string) => devices.some((d) => d.path === p || d.path === realPath(p));
  if (!found?.path || (config.path && !listed(config.path))) {
    return { ok: false, detail: `no HID device matches ${describeMatch(config)}; ${devices.length} HID device(s) visible` };
  }
  return { ok: true, detail: `found ${hex4(found.vendorId)}:${hex4(found.productId)} at ${found.path}` };
}

import { accessSync, constants, realpathSync } from 'node:fs';
import type { DeviceConfig } from '../../../config/schema.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string;
  product?: string;
  serialNumber?: string;
}

export interface HidDeps {
  /** Lists HID devices (node-hid `devices()`); rejects when the library cannot load. */
  list?: () => Promise<HidDeviceInfo[]>;
  /** Throws when the device node cannot be opened for reading and writing. */
  access?: (path: string) => void;
}

async function nodeHidDevices(): Promise<HidDeviceInfo[]> {
  const mod = (await import('node-hid')) as unknown as { devices(): HidDeviceInfo[]; default?: { devices(): HidDeviceInfo[] } };
  return (mod.default ?? mod).devices();
}

interface HidWanted {
  deviceId: string;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  path?: string;
}

/** The match keys a `hid` device config gives (vendorId/productId or a device path), read loosely so the check works as the schema grows. */
export function hidDevicesOf(devices: readonly DeviceConfig[]): HidWanted[] {
  return devices
    .filter((d) => d.driver === 'hid')
    .map((d) => {
      const o = d as unknown as Record<string, unknown>;
      const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^(0x)?[0-9a-f]{1,4}$/i.test(v) ? parseInt(v.replace(/^0x/i, ''), 16) : undefined);
      const w: HidWanted = { deviceId: d.id };
      const vendorId = num(o.vendorId);
      const productId = num(o.productId);
      if (vendorId !== undefined) w.vendorId = vendorId;
      if (productId !== undefined) w.productId = productId;
      if (typeof o.serialNumber === 'string') w.serialNumber = o.serialNumber;
      if (typeof o.path === 'string') w.path = o.path;
      return w;
    });
}

function resolveLink(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

const hex = (n: number) => n.toString(16).padStart(4, '0');

/** Configured HID readers are plugged in and their hidraw nodes are readable by this user. */
export async function checkHid(ctx: CheckContext, deps: HidDeps = {}): Promise<CheckResult[]> {
  const wanted = hidDevicesOf(ctx.loaded.config.devices);
  if (wanted.length === 0) return [result('hid', 'skip', 'no HID reader configured')];
  let found: HidDeviceInfo[];
  try {
    found = await (deps.list ?? nodeHidDevices)();
  } catch (err) {
    return [result('hid', 'fail', `node-hid cannot be loaded: ${reasonOf(err)}`, 'install the optional dependency node-hid; it needs libusb-1.0 and the hidraw kernel driver (apt install libusb-1.0-0 libudev1)')];
  }
  const access = deps.access ?? ((p: string) => accessSync(p, constants.R_OK | constants.W_OK));
  return wanted.map((w) => {
    const name = `hid ${w.deviceId}`;
    // A udev symlink (/dev/gatehouse-reader-1) names the same node node-hid lists as /dev/hidrawN.
    const wantedPath = w.path === undefined ? undefined : resolveLink(w.path);
    const matches = found.filter(
      (f) =>
        (w.vendorId === undefined || f.vendorId === w.vendorId) &&
        (w.productId === undefined || f.productId === w.productId) &&
        (w.serialNumber === undefined || f.serialNumber === w.serialNumber) &&
        (wantedPath === undefined || f.path === wantedPath || f.path === w.path),
    );
    const what = w.vendorId !== undefined ? `${hex(w.vendorId)}:${w.productId !== undefined ? hex(w.productId) : '*'}` : w.path ?? 'any HID device';
    const match = matches[0];
    if (!match) return result(name, 'fail', `no HID device matching ${what} is plugged in (${found.length} HID devices seen)`, 'plug the reader in and compare `lsusb` with vendorId/productId in the config');
    if (!match.path) return result(name, 'ok', `${what} present (${match.product ?? 'unnamed'})`);
    try {
      access(match.path);
    } catch (err) {
      return result(name, 'fail', `${match.path} (${what}) is present but not accessible: ${reasonOf(err)}`, `install deploy/99-gatehouse.rules (a line for ${hex(match.vendorId)}:${hex(match.productId)}), then udevadm control --reload && udevadm trigger`);
    }
    return result(name, 'ok', `${what} present at ${match.path} and accessible`);
  });
}

import { existsSync } from 'node:fs';
import type { DeviceConfig } from '../../../config/schema.js';
import type { SerialOptions, Transport } from '../../../drivers/serial/transport.js';
import { openSerialTransport, listSerialPorts } from '../../../drivers/serial/transport.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface SerialPortRef {
  deviceId: string;
  path: string;
  baudRate: number;
}

export interface SerialDeps {
  open?: (options: SerialOptions) => Promise<Transport>;
  list?: typeof listSerialPorts;
  exists?: (path: string) => boolean;
}

const DEFAULT_BAUD = 9600;

/**
 * The serial ports the config names. Device schemas differ by driver (OSDP
 * buses, serial readers), so this looks for the shapes they use — `port: PATH`,
 * `port: { path, baudRate }`, `serial: { path, baudRate }` or `path` — rather
 * than importing each driver's config type.
 */
export function serialPortsOf(devices: readonly DeviceConfig[]): SerialPortRef[] {
  const out: SerialPortRef[] = [];
  for (const device of devices) {
    const d = device as unknown as Record<string, unknown>;
    const baudOf = (o: Record<string, unknown>): number => (typeof o.baudRate === 'number' ? o.baudRate : typeof d.baudRate === 'number' ? d.baudRate : DEFAULT_BAUD);
    for (const key of ['port', 'serial']) {
      const v = d[key];
      if (typeof v === 'string' && v.startsWith('/')) out.push({ deviceId: device.id, path: v, baudRate: baudOf(d) });
      else if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).path === 'string') {
        const o = v as Record<string, unknown>;
        out.push({ deviceId: device.id, path: o.path as string, baudRate: baudOf(o) });
      }
    }
    if ((device.driver === 'osdp' || device.driver === 'serial-reader') && typeof d.path === 'string') {
      out.push({ deviceId: device.id, path: d.path, baudRate: baudOf(d) });
    }
  }
  return out;
}

const PERMISSION_FIX = 'add the service user to the dialout group (usermod -aG dialout gatehouse) and install deploy/99-gatehouse.rules for a stable /dev/gatehouse-* name';

/** Each configured serial port exists and opens (nothing is written to it). */
export async function checkSerialPorts(ctx: CheckContext, deps: SerialDeps = {}): Promise<CheckResult[]> {
  const ports = serialPortsOf(ctx.loaded.config.devices);
  if (ports.length === 0) return [result('serial ports', 'skip', 'no serial device configured')];
  const exists = deps.exists ?? existsSync;
  const open = deps.open ?? openSerialTransport;
  const listing = await (deps.list ?? listSerialPorts)();
  const out: CheckResult[] = [];
  if (listing.available) {
    const names = listing.ports.map((p) => (p.manufacturer ? `${p.path} (${p.manufacturer})` : p.path));
    out.push(result('serial ports', 'ok', names.length > 0 ? `found ${names.join(', ')}` : 'no serial adapter found by udev'));
  } else {
    out.push(result('serial ports', 'skip', `port listing not available (${listing.reason}); checking configured paths only`));
  }
  for (const port of ports) {
    const name = `serial ${port.deviceId}`;
    if (!exists(port.path)) {
      out.push(result(name, 'fail', `${port.path} does not exist`, 'plug in the adapter or HAT, check `ls -l /dev/serial/by-id/`, and use that stable path in the config'));
      continue;
    }
    try {
      const transport = await open({ path: port.path, baudRate: port.baudRate });
      await transport.close();
      out.push(result(name, 'ok', `${port.path} opens at ${port.baudRate} baud`));
    } catch (err) {
      const text = reasonOf(err);
      const busy = /busy|lock|EBUSY|Resource temporarily unavailable/i.test(text);
      const denied = /EACCES|permission denied/i.test(text);
      if (busy && ctx.gatewayRunning) {
        out.push(result(name, 'ok', `${port.path} is held by the running gateway`));
        continue;
      }
      const fix = denied ? PERMISSION_FIX : busy ? 'another process holds the port: stop it (fuser -v ' + port.path + '), or stop the running gateway before checking' : 'check the adapter (dmesg | tail) and the path';
      out.push(result(name, 'fail', `${port.path} cannot be opened: ${text}`, fix));
    }
  }
  return out;
}

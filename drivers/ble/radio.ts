import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { AD_TYPE, EDDYSTONE_SERVICE_UUID, encodeAdStructures } from './decode.js';

/** One advertisement as a radio heard it: the raw AD structures and the RSSI. */
export interface RawAdvert {
  data: Buffer;
  rssi: number;
  /** The advertiser's address, when the radio knows it (a device identifier: never leaves the gateway without consent). */
  address?: string;
}

export interface RadioHandlers {
  advert(advert: RawAdvert): void;
  /** The radio went away or came back after `start` resolved (adapter powered off, unplugged...). */
  state(state: 'online' | 'unavailable', reason?: string): void;
}

/**
 * A source of advertisements. `start` rejects with an error whose message
 * names the fix when the radio cannot be used; the driver retries with backoff.
 */
export interface RadioSource {
  readonly kind: string;
  start(handlers: RadioHandlers): Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Simulated radio: fed in-process (tests, bench) or through a Unix socket (venue simulator).

/**
 * A radio that hears whatever it is fed. `feed()` delivers in-process; with a
 * socket path it also listens on a Unix socket for lines `HEX RSSI [ADDRESS]`.
 */
export class SimulatedRadio implements RadioSource {
  readonly kind = 'simulated';
  private handlers: RadioHandlers | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Lines from the socket that were not `HEX RSSI [ADDRESS]`. */
  badLines = 0;

  constructor(private readonly socketPath?: string) {}

  async start(handlers: RadioHandlers): Promise<void> {
    this.handlers = handlers;
    if (!this.socketPath) return;
    const path = this.socketPath;
    rmSync(path, { force: true });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Delivers one advertisement as if heard over the air; ignored while stopped. */
  feed(advert: RawAdvert): void {
    this.handlers?.advert(advert);
  }

  /** Simulates the adapter disappearing or returning. */
  setState(state: 'online' | 'unavailable', reason?: string): void {
    this.handlers?.state(state, reason);
  }

  async stop(): Promise<void> {
    this.handlers = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      // A peer that never sends a newline must not grow our memory without bound.
      if (buffered.length > 64 * 1024 && !buffered.includes('\n')) {
        this.badLines++;
        buffered = '';
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) this.acceptLine(line);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private acceptLine(line: string): void {
    const [hex, rssiText, address] = line.split(/\s+/);
    const rssi = Number(rssiText);
    if (!hex || !/^([0-9a-fA-F]{2})+$/.test(hex) || !Number.isFinite(rssi)) {
      this.badLines++;
      return;
    }
    this.feed(address ? { data: Buffer.from(hex, 'hex'), rssi, address } : { data: Buffer.from(hex, 'hex'), rssi });
  }
}

// ---------------------------------------------------------------------------
// Real radio on @abandonware/noble.

/** The part of noble we use (its peripheral objects carry parsed advertisement fields, not raw bytes). */
export interface NobleLike {
  state?: string;
  _state?: string;
  on(event: 'stateChange', listener: (state: string) => void): unknown;
  on(event: 'discover', listener: (peripheral: NoblePeripheral) => void): unknown;
  removeAllListeners(event?: string): unknown;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
}

export interface NoblePeripheral {
  address?: string;
  rssi: number;
  advertisement: {
    manufacturerData?: Buffer;
    serviceData?: Array<{ uuid: string; data: Buffer }>;
    txPowerLevel?: number;
  };
}

export const FIX_PERMISSION =
  'no permission to open the Bluetooth HCI socket: run gatehouse as root or grant the capability: sudo setcap cap_net_raw+eip "$(readlink -f "$(command -v node)")" (setcap is in libcap2-bin)';
export const FIX_NO_ADAPTER =
  'no Bluetooth support on this machine (EAFNOSUPPORT): attach a Bluetooth LE adapter and load the bluetooth kernel modules; in a container run with --net=host and --cap-add=NET_ADMIN,NET_RAW';
export const FIX_NOT_INSTALLED = 'the optional package @abandonware/noble is not installed: npm install @abandonware/noble (needs build tools and libbluetooth-dev/libudev-dev)';
export const FIX_POWERED_OFF = 'the Bluetooth adapter is powered off or blocked: rfkill unblock bluetooth && bluetoothctl power on';
export const FIX_UNSUPPORTED = 'the Bluetooth adapter does not support Bluetooth Low Energy: use a BLE (4.0+) adapter';

/** An error whose message already names the fix. */
class RadioUnavailable extends Error {}

/** Turns a load-time or scan error into the reason an operator can act on. */
export function explainRadioError(err: unknown): string {
  if (err instanceof RadioUnavailable) return err.message;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  const message = e.message ?? String(err);
  if (code === 'EAFNOSUPPORT' || /EAFNOSUPPORT|Address family not supported/i.test(message)) return FIX_NO_ADAPTER;
  if (code === 'EPERM' || code === 'EACCES' || /EPERM|EACCES|operation not permitted|permission denied/i.test(message)) return FIX_PERMISSION;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return FIX_NOT_INSTALLED;
  if (code === 'ENODEV' || /ENODEV|No such device/i.test(message)) return FIX_NO_ADAPTER;
  return `Bluetooth radio failed: ${message}`;
}

function explainState(state: string): string {
  if (state === 'unauthorized') return FIX_PERMISSION;
  if (state === 'poweredOff') return FIX_POWERED_OFF;
  if (state === 'unsupported') return FIX_UNSUPPORTED;
  return `Bluetooth adapter is in state "${state}"`;
}

/**
 * Loads noble. `require` (not `import()`) on purpose: noble opens the HCI
 * socket while its module loads and throws EAFNOSUPPORT/EPERM there; a failed
 * `require` is evicted from the cache so the next retry really tries again,
 * whereas a failed ESM import stays failed for the life of the process.
 */
export function loadNoble(): Promise<NobleLike> {
  const require = createRequire(import.meta.url);
  return Promise.resolve(require('@abandonware/noble') as NobleLike);
}

/** Rebuilds the AD structures noble parsed apart, so one decoder serves every radio. */
export function advertFromPeripheral(p: NoblePeripheral): RawAdvert {
  const structures: Array<{ type: number; data: Buffer }> = [];
  const ad = p.advertisement;
  if (ad.manufacturerData && ad.manufacturerData.length > 0 && ad.manufacturerData.length <= 254) structures.push({ type: AD_TYPE.MANUFACTURER, data: ad.manufacturerData });
  for (const sd of ad.serviceData ?? []) {
    const uuid = Number.parseInt(sd.uuid, 16);
    if (sd.uuid.length !== 4 || !Number.isFinite(uuid) || sd.data.length > 252) continue;
    const head = Buffer.alloc(2);
    head.writeUInt16LE(uuid, 0);
    structures.push({ type: AD_TYPE.SERVICE_DATA_16, data: Buffer.concat([head, sd.data]) });
  }
  if (ad.txPowerLevel !== undefined && Number.isInteger(ad.txPowerLevel) && ad.txPowerLevel >= -128 && ad.txPowerLevel <= 127) {
    const tx = Buffer.alloc(1);
    tx.writeInt8(ad.txPowerLevel, 0);
    structures.push({ type: AD_TYPE.TX_POWER, data: tx });
  }
  const advert: RawAdvert = { data: encodeAdStructures(structures), rssi: p.rssi };
  if (p.address) advert.address = p.address;
  return advert;
}

export interface NobleRadioOptions {
  load?: () => Promise<NobleLike>;
  /** How long to wait for the adapter to report `poweredOn` (ms). */
  poweredOnTimeoutMs?: number;
}

/** The host's adapter through noble: scans with duplicates allowed (every advertisement is an RSSI sample). */
export class NobleRadio implements RadioSource {
  readonly kind = 'noble';
  private noble: NobleLike | undefined;
  private readonly load: () => Promise<NobleLike>;
  private readonly poweredOnTimeoutMs: number;

  constructor(options: NobleRadioOptions = {}) {
    this.load = options.load ?? loadNoble;
    this.poweredOnTimeoutMs = options.poweredOnTimeoutMs ?? 10_000;
  }

  async start(handlers: RadioHandlers): Promise<void> {
    let noble: NobleLike;
    try {
      noble = await this.load();
    } catch (err) {
      throw new Error(explainRadioError(err), { cause: err });
    }
    this.noble = noble;
    try {
      // Reading noble.state opens the HCI socket on first use, which is where EPERM surfaces.
      await this.waitPoweredOn(noble);
    } catch (err) {
      throw new Error(explainRadioError(err), { cause: err });
    }
    noble.on('discover', (p) => {
      // Only iBeacon (manufacturer data) and Eddystone (0xFEAA) frames can identify anybody.
      if (p.advertisement.manufacturerData || p.advertisement.serviceData?.some((s) => Number.parseInt(s.uuid, 16) === EDDYSTONE_SERVICE_UUID)) {
        handlers.advert(advertFromPeripheral(p));
      }
    });
    noble.on('stateChange', (state) => {
      if (state === 'poweredOn') {
        handlers.state('online');
        noble.startScanningAsync([], true).catch((err: unknown) => handlers.state('unavailable', explainRadioError(err)));
      } else {
        handlers.state('unavailable', explainState(state));
      }
    });
    try {
      await noble.startScanningAsync([], true);
    } catch (err) {
      noble.removeAllListeners('discover');
      noble.removeAllListeners('stateChange');
      throw new Error(explainRadioError(err), { cause: err });
    }
  }

  async stop(): Promise<void> {
    const noble = this.noble;
    this.noble = undefined;
    if (!noble) return;
    noble.removeAllListeners('discover');
    noble.removeAllListeners('stateChange');
    await noble.stopScanningAsync().catch(() => undefined);
  }

  private waitPoweredOn(noble: NobleLike): Promise<void> {
    const current = noble.state ?? noble._state;
    if (current === 'poweredOn') return Promise.resolve();
    if (current === 'unauthorized' || current === 'unsupported') return Promise.reject(new RadioUnavailable(explainState(current)));
    return new Promise((resolve, reject) => {
      let last = current ?? 'unknown';
      const timer = setTimeout(() => {
        noble.removeAllListeners('stateChange');
        reject(new RadioUnavailable(last === 'unknown' ? 'the Bluetooth adapter did not power on: check `bluetoothctl show` and `rfkill list`' : explainState(last)));
      }, this.poweredOnTimeoutMs);
      noble.on('stateChange', (state) => {
        last = state;
        if (state === 'poweredOn') {
          clearTimeout(timer);
          noble.removeAllListeners('stateChange');
          resolve();
        } else if (state === 'unauthorized' || state === 'unsupported') {
          clearTimeout(timer);
          noble.removeAllListeners('stateChange');
          reject(new RadioUnavailable(explainState(state)));
        }
      });
    });
  }
}

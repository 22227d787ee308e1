import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KeyObject } from 'node:crypto';
import { loadConfigFile, formatProblem } from '../../config/load.js';
import { generatePassword, hashPassword } from '../../drivers/mqtt/password.js';
import type { MqttDeviceType } from '../../drivers/mqtt/config.js';
import type { SerialFraming } from '../../drivers/serial-reader/config.js';
import { GatehouseError } from '../../gateway/errors.js';
import type { Scenario } from './scenario.js';

/* The raw YAML of a venue config is walked as plain data: the generated file must keep every key the operator wrote. */
type Raw = Record<string, unknown>;

export type Transport = 'osdp' | 'mqtt' | 'wiegand' | 'serial';

export interface EntryLane {
  id: string;
  transport: Transport;
  device: string;
  /** OSDP address (bus readers). */
  reader?: string;
  zone: string;
}

export interface SimVenue {
  /** The generated gateway config file. */
  configFile: string;
  gatewayId: string;
  adminUrl: string;
  brokerUrl: string;
  /** Ed25519 key the central stand-in signs entitlements with; the gateway has the public half. */
  signingKey: KeyObject;
  centralToken: string;
  osdp: Array<{ device: string; baudRate: number; gatewayPath: string; deviceEnd: number; readers: Array<{ address: number; scbk?: Buffer }> }>;
  serial: Array<{ device: string; baudRate: number; gatewayPath: string; deviceEnd: number; framing: SerialFraming; kind: 'card' | 'barcode' }>;
  wiegand: Array<{ device: string; socket: string }>;
  gpio: Array<{ device: string; socket: string }>;
  mqtt: Array<{ id: string; type: MqttDeviceType; password: string }>;
  ble: Array<{ device: string; socket: string }>;
  beacons: Array<{ id: string; zone: string; ibeacon?: { uuid: string; major: number; minor: number }; eddystone?: { namespace: string; instance: string } }>;
  entryLanes: EntryLane[];
  /** Zones the simulated holders may enter. */
  zones: string[];
  /** Devices of the venue the simulator cannot drive (dropped with their lanes), with the reason. */
  skipped: Array<{ device: string; reason: string }>;
}

export interface VenueOptions {
  /** The operator's venue config (e.g. config/examples/stadium.yaml). */
  venueFile: string;
  scenario: Scenario;
  /** Working directory of the run: data, keys, sockets and the generated config go here. */
  dir: string;
  centralUrl: string;
  /** Private key the central stand-in signs with; the gateway gets its public half. */
  signingKey: KeyObject;
  centralToken: string;
  /** Makes one PTY pair; index = the PTY's number in the run (the simulator owns socat). */
  pty: () => Promise<{ gateway: string; device: string; index: number }>;
}

/** A free TCP port on 127.0.0.1 (bound and released; the gateway child binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const suffix = (id: string, copy: number) => (copy === 0 ? id : `${id}-r${copy + 1}`);

/**
 * Turns a venue config into its simulation twin: the same gateway, zones,
 * beacons and rules, every reader moved onto a simulated transport the
 * simulator drives from outside (OSDP and serial buses on PTYs, Wiegand and
 * GPIO lines on sockets, the BLE radio on a socket, MQTT devices with fresh
 * passwords), entry devices and lanes cloned `scenario.replicate` times, and
 * storage, secrets, central and ports pointed at the run's directory.
 */
export async function makeSimVenue(opts: VenueOptions): Promise<SimVenue> {
  const checked = loadConfigFile(opts.venueFile);
  if (!checked.ok) throw new GatehouseError('GH_SIM_GATEWAY', `venue config ${opts.venueFile} is invalid:\n${checked.problems.map(formatProblem).join('\n')}`);
  const raw = parse(readFileSync(opts.venueFile, 'utf8')) as Raw;
  const typed = checked.value.config;
  const dir = opts.dir;
  mkdirSync(join(dir, 'keys'), { recursive: true });
  mkdirSync(join(dir, 'sock'), { recursive: true });
  const secret = (name: string, content: string | Buffer) => {
    const file = join(dir, 'keys', name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  };

  const publicKey = createPublicKey(opts.signingKey);
  const centralToken = opts.centralToken;
  const [adminPort, brokerPort] = [await freePort(), await freePort()];
  const gatewayId = typed.gateway.id;

  const venue: SimVenue = {
    configFile: join(dir, 'gateway.yaml'),
    gatewayId,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    brokerUrl: `mqtt://127.0.0.1:${brokerPort}`,
    signingKey: opts.signingKey,
    centralToken,
    osdp: [],
    serial: [],
    wiegand: [],
    gpio: [],
    mqtt: [],
    ble: [],
    beacons: typed.beacons.map((b) => ({ id: b.id, zone: b.zone, ...(b.ibeacon ? { ibeacon: b.ibeacon } : {}), ...(b.eddystone ? { eddystone: b.eddystone } : {}) })),
    entryLanes: [],
    zones: typed.zones.map((z) => z.id),
    skipped: [],
  };

  const rawDevices = (raw.devices ?? []) as Raw[];
  const rawLanes = (raw.lanes ?? []) as Raw[];
  const typedDevice = new Map(typed.devices.map((d) => [d.id, d]));
  // Devices that feed an entry lane are cloned per replica; the rest (signs, kiosks, radios, exits) exist once.
  const entryDevices = new Set<string>();
  for (const l of typed.lanes) {
    if (l.direction === 'in') {
      entryDevices.add(l.reader.device);
      if (l.output) entryDevices.add(l.output.device);
    }
  }
  const devicesOut: Raw[] = [];
  const simulable = new Set<string>();
  for (const rd of rawDevices) {
    const d = typedDevice.get(String(rd.id))!;
    const copies = entryDevices.has(d.id) ? opts.scenario.replicate : 1;
    for (let c = 0; c < copies; c++) {
      const id = suffix(d.id, c);
      const out: Raw = { ...structuredClone(rd), id };
      switch (d.driver) {
        case 'osdp': {
          const pty = await opts.pty();
          out.path = pty.gateway;
          const readers: Array<{ address: number; scbk?: Buffer }> = [];
          out.readers = d.readers.map((r, i) => {
            const rr = { ...((rd.readers as Raw[])[i] ?? {}) };
            if (r.secureChannel && opts.scenario.osdpSecureChannel) {
              const scbk = randomBytes(16);
              rr.secureChannel = { keyFile: secret(`${id}-${r.address}.key`, scbk.toString('hex') + '\n') };
              readers.push({ address: r.address, scbk });
            } else {
              delete rr.secureChannel;
              readers.push({ address: r.address });
            }
            return rr;
          });
          venue.osdp.push({ device: id, baudRate: d.baudRate, gatewayPath: pty.gateway, deviceEnd: pty.index, readers });
          break;
        }
        case 'serial-reader': {
          const pty = await opts.pty();
          out.path = pty.gateway;
          venue.serial.push({ device: id, baudRate: d.baudRate, gatewayPath: pty.gateway, deviceEnd: pty.index, framing: d.framing, kind: d.kind });
          break;
        }
        case 'wiegand':
        case 'gpio': {
          const socket = join(dir, 'sock', `${id}.sock`);
          out.pins = { kind: 'socket', path: socket };
          (d.driver === 'wiegand' ? venue.wiegand : venue.gpio).push({ device: id, socket });
          break;
        }
        case 'mqtt': {
          const password = generatePassword();
          out.passwordHash = await hashPassword(password);
          delete out.username;
          // A simulated QR lane scans far faster than the per-device default allows.
          if (d.type === 'reader') out.limits = { ...(out.limits as Raw | undefined), publishPerSecond: 500, publishBurst: 1000 };
          venue.mqtt.push({ id, type: d.type, password });
          break;
        }
        case 'ble': {
          const socket = join(dir, 'sock', `${id}.sock`);
          out.radio = 'simulated';
          out.socket = socket;
          venue.ble.push({ device: id, socket });
          break;
        }
        case 'sim':
          break;
        default:
          venue.skipped.push({ device: id, reason: `the simulator has no ${d.driver} device` });
          continue;
      }
      simulable.add(id);
      devicesOut.push(out);
    }
  }

  const lanesOut: Raw[] = [];
  for (const rl of rawLanes) {
    const l = typed.lanes.find((x) => x.id === rl.id)!;
    const copies = l.direction === 'in' ? opts.scenario.replicate : 1;
    for (let c = 0; c < copies; c++) {
      const readerDevice = suffix(l.reader.device, l.direction === 'in' ? c : 0);
      if (!simulable.has(readerDevice)) continue;
      const lane: Raw = { ...structuredClone(rl), id: suffix(l.id, c), reader: { ...l.reader, device: readerDevice } };
      if (l.output) {
        const outDevice = suffix(l.output.device, l.direction === 'in' ? c : 0);
        if (!simulable.has(outDevice)) delete lane.output;
        else lane.output = { ...(rl.output as Raw), device: outDevice };
      }
      if (c > 0 && typeof rl.name === 'string') lane.name = `${rl.name} (replica ${c + 1})`;
      lanesOut.push(lane);
      const d = typedDevice.get(l.reader.device)!;
      const transport: Transport | undefined = d.driver === 'osdp' ? 'osdp' : d.driver === 'mqtt' ? 'mqtt' : d.driver === 'wiegand' ? 'wiegand' : d.driver === 'serial-reader' ? 'serial' : undefined;
      if (l.direction === 'in' && transport) venue.entryLanes.push({ id: String(lane.id), transport, device: readerDevice, ...(l.reader.reader !== undefined ? { reader: l.reader.reader } : {}), zone: l.zone });
    }
  }

  const storage = structuredClone((raw.storage ?? {}) as Raw);
  storage.dataDir = join(dir, 'data');
  const central = structuredClone((raw.central ?? {}) as Raw);
  delete central.tls;
  delete central.transport;
  delete central.mqtt;
  Object.assign(central, {
    url: opts.centralUrl,
    token: { file: secret('central.token', centralToken + '\n') },
    publicKey: { file: secret('central.pub.pem', publicKey.export({ type: 'spki', format: 'pem' }).toString()) },
    // A 10 s central outage must not turn into a minute of backoff.
    maxBackoffMs: 2000,
  });
  // Cloning the stand clones its seats: zone capacities grow with the replicas.
  const zonesOut = ((raw.zones ?? []) as Raw[]).map((z) => (typeof z.capacity === 'number' ? { ...z, capacity: z.capacity * opts.scenario.replicate } : z));
  const generated: Raw = {
    ...raw,
    zones: zonesOut,
    gateway: { ...(raw.gateway as Raw), assumeClockSynced: true },
    storage,
    secrets: { ...(raw.secrets as Raw), credentialKey: { file: secret('credential.key', randomBytes(32).toString('hex') + '\n') } },
    central,
    broker: { host: '127.0.0.1', port: brokerPort, limits: { ...((raw.broker as Raw | undefined)?.limits as Raw | undefined) } },
    admin: { host: '127.0.0.1', port: adminPort },
    devices: devicesOut,
    lanes: lanesOut,
  };
  writeFileSync(venue.configFile, `# Generated by \`gatehouse simulate\` from ${opts.venueFile}\n${stringify(generated)}`);
  const reloaded = loadConfigFile(venue.configFile);
  if (!reloaded.ok) throw new GatehouseError('GH_SIM_GATEWAY', `generated config is invalid:\n${reloaded.problems.map(formatProblem).join('\n')}`);
  return venue;
}

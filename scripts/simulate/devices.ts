import { connect, type Socket } from 'node:net';
import { openSerialTransport, type Transport as SerialTransport } from '../../drivers/serial/transport.js';
import { OsdpSimulator } from '../../drivers/osdp/sim.js';
import { simulatedSerialReader } from '../../drivers/serial-reader/sim.js';
import { connectSimDevice, type SimDevice } from '../../drivers/mqtt/sim.js';
import { SimulatedAdvertiser } from '../../drivers/ble/sim.js';
import type { PtyPair } from '../../test/helpers/pty.js';
import type { SimVenue } from './venue.js';

/** What to undo at the end of a run, in reverse order. */
export type Cleanups = Array<() => Promise<unknown> | unknown>;

/** The simulator's ends of the serial lines: they exist before the gateway starts. */
export interface SerialEnds {
  osdp: Map<string, { sim: OsdpSimulator; transport: SerialTransport }>;
  serial: Map<string, ReturnType<typeof simulatedSerialReader>>;
}

/** The simulator's ends that connect to a running gateway. */
export interface NetworkEnds {
  mqtt: Map<string, SimDevice>;
  /** Wiegand edge-source lines, by device. */
  wiegand: Map<string, Socket>;
  adverts: SimulatedAdvertiser[];
}

export type DeviceEnds = SerialEnds & NetworkEnds;

/** Opens the OSDP and serial readers on the device ends of their PTYs. */
export async function openSerialEnds(venue: SimVenue, ptys: readonly PtyPair[], cleanups: Cleanups): Promise<SerialEnds> {
  const osdp: SerialEnds['osdp'] = new Map();
  for (const bus of venue.osdp) {
    const transport = await openSerialTransport({ path: ptys[bus.deviceEnd]!.device, baudRate: bus.baudRate });
    const sim = new OsdpSimulator({ transport, baudRate: bus.baudRate, readers: bus.readers.map((r) => ({ address: r.address, ...(r.scbk ? { scbk: r.scbk } : {}) })) });
    osdp.set(bus.device, { sim, transport });
    cleanups.push(async () => {
      sim.close();
      await transport.close();
    });
  }
  const serial: SerialEnds['serial'] = new Map();
  for (const s of venue.serial) {
    const transport = await openSerialTransport({ path: ptys[s.deviceEnd]!.device, baudRate: s.baudRate });
    serial.set(s.device, simulatedSerialReader(transport, s.framing));
    cleanups.push(() => transport.close());
  }
  return { osdp, serial };
}

/** Connects the MQTT devices, the Wiegand and GPIO lines and the BLE radios to the running gateway. */
export async function connectNetworkEnds(venue: SimVenue, cleanups: Cleanups): Promise<NetworkEnds> {
  const mqtt: NetworkEnds['mqtt'] = new Map();
  for (const d of venue.mqtt) {
    const dev = await connectSimDevice({ url: venue.brokerUrl, gatewayId: venue.gatewayId, id: d.id, type: d.type, password: d.password });
    mqtt.set(d.id, dev);
    cleanups.push(() => dev.client.endAsync(true));
  }
  const wiegand: NetworkEnds['wiegand'] = new Map();
  for (const w of venue.wiegand) {
    const socket = await connectUnix(w.socket);
    wiegand.set(w.device, socket);
    cleanups.push(() => socket.destroy());
  }
  const adverts: SimulatedAdvertiser[] = [];
  for (const b of venue.ble) {
    const a = await SimulatedAdvertiser.connect(b.socket);
    adverts.push(a);
    cleanups.push(() => a.close());
  }
  for (const g of venue.gpio) {
    // Turnstile I/O: the simulator only listens (relay outputs); rotation sensors stay idle.
    const socket = await connectUnix(g.socket);
    cleanups.push(() => socket.destroy());
  }
  return { mqtt, wiegand, adverts };
}

/** Commands the simulated OSDP readers have answered so far, over every bus. */
export function osdpExchanges(osdp: SerialEnds['osdp']): number {
  return [...osdp.values()].reduce((n, { sim }) => n + [...sim.received.values()].reduce((a, b) => a + b, 0), 0);
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

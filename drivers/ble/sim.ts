import { connect, type Socket } from 'node:net';
import { encodeEddystoneUid, encodeIBeacon, type EddystoneUid, type IBeacon } from './decode.js';

/**
 * The other end of a `radio: simulated` BLE device: phones and wristbands
 * "advertising" by writing `HEX RSSI [ADDRESS]` lines to the radio's Unix
 * socket (the venue simulator and integration tests use it).
 */
export function advertLine(advert: Buffer, rssi: number, address?: string): string {
  return `${advert.toString('hex')} ${Math.round(rssi)}${address ? ` ${address}` : ''}\n`;
}

export type SimulatedBeacon = ({ kind: 'ibeacon' } & Omit<IBeacon, 'kind'>) | ({ kind: 'eddystone-uid' } & Omit<EddystoneUid, 'kind'>);

/** The advertising data a simulated beacon sends. */
export function advertOf(beacon: SimulatedBeacon): Buffer {
  if (beacon.kind === 'ibeacon') return encodeIBeacon(beacon);
  return encodeEddystoneUid(beacon);
}

export class SimulatedAdvertiser {
  private constructor(private readonly socket: Socket) {}

  /** Connects to the socket a simulated radio listens on. */
  static async connect(path: string): Promise<SimulatedAdvertiser> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new SimulatedAdvertiser(socket);
  }

  /** Sends one advertisement heard at `rssi` dBm. */
  advertise(beacon: SimulatedBeacon, rssi: number, address?: string): void {
    this.socket.write(advertLine(advertOf(beacon), rssi, address));
  }

  /** Sends raw bytes as they are (malformed-input tests). */
  writeRaw(text: string): void {
    this.socket.write(text);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.end(() => resolve()));
    this.socket.destroy();
  }
}

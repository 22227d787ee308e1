import { randomBytes } from 'node:crypto';
import type { SimulatedBeacon } from '../../drivers/ble/sim.js';
import type { CentralStandIn } from '../central/index.js';
import { seededRandom } from './crowd.js';
import type { DeviceEnds } from './devices.js';
import type { Scenario } from './scenario.js';
import type { EntryLane, SimVenue } from './venue.js';

/** What the venue's background life and hostile traffic have done so far. */
export interface VenueLife {
  advertsSent: number;
  sightingsSent: number;
  interactionsSent: number;
  /** Entry lanes (indexes into the run's lanes) whose reader is offline now: arrivals walk on to the next lane. */
  offlineLanes: Set<number>;
  /** The lane the hostile traffic takes offline, if any. */
  offlineReader?: EntryLane;
  /** When central started and stopped refusing events (epoch ms), once it has. */
  outage: { from?: number; to?: number };
  /** Stops every timer. */
  stop(): void;
}

export interface VenueLifeOptions {
  scenario: Scenario;
  venue: SimVenue;
  ends: DeviceEnds;
  central: Pick<CentralStandIn, 'setFault'>;
  /** The run's entry lanes. */
  lanes: readonly EntryLane[];
  /** Holders inside the venue, for app sightings and kiosk use. */
  entered: readonly string[];
}

/**
 * Everything in the venue besides the entry lanes, from the scenario's rates:
 * beacon adverts on the BLE radios, app sightings and kiosk use over MQTT; and
 * the hostile traffic: malformed kiosk JSON, garbage on a serial line, an OSDP
 * reader going silent and central refusing events for a while.
 */
export function startVenueLife({ scenario, venue, ends, central, lanes, entered }: VenueLifeOptions): VenueLife {
  const rnd = seededRandom(scenario.seed ^ 0x5eed);
  const timers: NodeJS.Timeout[] = [];
  const life: VenueLife = {
    advertsSent: 0,
    sightingsSent: 0,
    interactionsSent: 0,
    offlineLanes: new Set(),
    outage: {},
    stop: () => timers.forEach((t) => clearTimeout(t)),
  };
  const every = (perSecond: number, fn: () => void) => {
    if (perSecond <= 0) return;
    // Ticks of at least 20 ms; several actions per tick at high rates.
    const tickMs = Math.max(20, 1000 / perSecond);
    let owed = 0;
    timers.push(
      setInterval(() => {
        owed += (perSecond * tickMs) / 1000;
        for (; owed >= 1; owed--) fn();
      }, tickMs),
    );
  };
  const at = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const beacons: SimulatedBeacon[] = venue.beacons.flatMap((b): SimulatedBeacon[] =>
    b.ibeacon ? [{ kind: 'ibeacon', ...b.ibeacon, measuredPower: -59 }] : b.eddystone ? [{ kind: 'eddystone-uid', namespace: b.eddystone.namespace, instance: b.eddystone.instance, txPower: -20 }] : [],
  );
  if (beacons.length > 0 && ends.adverts.length > 0) {
    every(scenario.beacons.advertsPerSecond, () => {
      const mac = `c0:${Array.from({ length: 5 }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0')).join(':')}`;
      pick(ends.adverts).advertise(pick(beacons), -50 - Math.floor(rnd() * 40), mac);
      life.advertsSent++;
    });
  }
  const apps = venue.mqtt.filter((d) => d.type === 'app').map((d) => ends.mqtt.get(d.id)!);
  if (apps.length > 0 && venue.beacons.length > 0 && entered.length > 0) {
    every(scenario.beacons.appSightingsPerSecond, () => {
      life.sightingsSent++;
      void pick(apps).sighting(pick(venue.beacons).id, -55 - Math.floor(rnd() * 30), pick(entered)).catch(() => undefined);
    });
  }
  const kioskDevices = venue.mqtt.filter((d) => d.type === 'kiosk');
  const kiosks = kioskDevices.map((d) => ends.mqtt.get(d.id)!);
  if (kiosks.length > 0) {
    every(scenario.kiosks.interactionsPerSecond, () => {
      life.interactionsSent++;
      void pick(kiosks).interact(pick(['menu', 'shirt-home', 'shirt-away', 'scarf']), pick(['view', 'tap']), entered.length > 0 ? pick(entered) : undefined).catch(() => undefined);
    });
  }

  const windowMs = scenario.durationS * 1000;
  const hostile = scenario.hostile;
  if (hostile.kioskMalformedPerSecond > 0 && kiosks.length > 0) {
    const bad = kiosks.at(-1)!;
    const topic = `gatehouse/${venue.gatewayId}/${kioskDevices.at(-1)!.id}/interaction`;
    every(hostile.kioskMalformedPerSecond, () => bad.client.publish(topic, '{"item": "menu", "action": ', { qos: 0 }));
  }
  if (hostile.serialGarbagePerSecond > 0 && ends.serial.size > 0) {
    const line = [...ends.serial.values()][0]!;
    every(hostile.serialGarbagePerSecond, () => void line.garbage(randomBytes(16)).catch(() => undefined));
  }
  const offlineReader = hostile.readerOfflineAt !== undefined ? lanes.find((l) => l.transport === 'osdp') : undefined;
  if (offlineReader && hostile.readerOfflineAt !== undefined) {
    life.offlineReader = offlineReader;
    // People do not queue at a dead reader: while it is offline its arrivals walk to the next lane.
    const sim = ends.osdp.get(offlineReader.device)!.sim;
    const index = lanes.indexOf(offlineReader);
    const from = hostile.readerOfflineAt * windowMs;
    at(from, () => {
      life.offlineLanes.add(index);
      sim.setSilent(Number(offlineReader.reader), true);
    });
    at(from + hostile.readerOfflineForS * 1000, () => {
      sim.setSilent(Number(offlineReader.reader), false);
      life.offlineLanes.delete(index);
    });
  }
  if (hostile.centralDownAt !== undefined) {
    const from = hostile.centralDownAt * windowMs;
    at(from, () => {
      life.outage.from = Date.now();
      central.setFault({ kind: 'status', status: 503, scope: 'events' });
    });
    at(from + hostile.centralDownForS * 1000, () => {
      life.outage.to = Date.now();
      central.setFault(null);
    });
  }
  return life;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { configSchema, type GatewayConfig } from '../../config/schema.js';
import { createBleDriver, type BleDriver } from '../../drivers/ble/driver.js';
import { bleDeviceSchema } from '../../drivers/ble/config.js';
import { encodeIBeacon } from '../../drivers/ble/decode.js';
import { SimulatedRadio } from '../../drivers/ble/radio.js';
import { Bus } from '../../gateway/bus/bus.js';
import type { Clock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { ContentPublisher, SignContent } from '../../gateway/core/signage.js';
import { eventFactory, type CloudEvent } from '../../gateway/events/cloudevent.js';
import { createEngagement, type Engagement } from '../../gateway/engagement/index.js';
import { EVENT_TYPES } from '../../gateway/engagement/event-schemas.js';
import { rssiAtDistance } from '../../gateway/engagement/proximity.js';
import { seededRandom as prng } from '../simulate/crowd.js';

/**
 * `gatehouse bench engagement --json` (issue #7).
 *
 * Phase 1 (throughput, flaps): `phones` phones advertising as iBeacons move
 * through `zones` zones, each covered by a simulated BLE radio. Every virtual
 * second each phone is heard by its zone's radio (about 1.5 m, noisy) and by
 * the next zone's radio (about 15 m, noisy). Advertisements go through the
 * real path: BLE driver decode -> bus `sighting` -> engagement tracker ->
 * events + rules. Time is virtual, so the run measures CPU work, not waiting.
 * `zone_flaps` counts enter/exit pairs shorter than the minimum dwell.
 *
 * Phase 2 (trigger latency): a real aedes broker on 127.0.0.1:0, a real
 * mqtt.js subscriber acting as the sign, and a ContentPublisher publishing
 * over MQTT. Each sample is timed from just before the advertisement that
 * makes a phone enter a zone is fed to the radio until the sign receives the content.
 */
export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const phones = Number(options.phones ?? 5000);
  const zones = Number(options.zones ?? 50);
  const seconds = Number(options.seconds ?? 60);
  const triggers = Number(options.triggers ?? 300);
  const seed = Number(options.seed ?? 7);

  const throughput = await phaseThroughput({ phones, zones, seconds, seed });
  const rssMb = Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10;
  const latency = await phaseLatency({ zones, triggers, seed });
  return {
    phones,
    zones,
    virtual_seconds: seconds,
    adverts: throughput.adverts,
    adverts_per_s: Math.round(throughput.adverts / (throughput.elapsedMs / 1000)),
    zone_enters: throughput.enters,
    zone_exits: throughput.exits,
    wrong_zone_enters: throughput.wrongZone,
    zone_flaps: throughput.flaps,
    contents_sent: throughput.contents,
    trigger_samples: latency.samples.length,
    trigger_p50_ms: percentile(latency.samples, 0.5),
    trigger_p99_ms: percentile(latency.samples, 0.99),
    trigger_max_ms: percentile(latency.samples, 1),
    rss_mb: rssMb,
    node: process.version,
  };
}

const TX = -59;
const EXPONENT = 2.2;
const MIN_DWELL_MS = 10_000;
const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

function benchConfig(zones: number): GatewayConfig {
  const ids = Array.from({ length: zones }, (_, i) => `z${i}`);
  return configSchema.parse({
    gateway: { id: 'gw-bench' },
    storage: { dataDir: '.' },
    secrets: { credentialKey: { env: 'UNUSED' } },
    devices: ids.map((z) => ({ id: `radio-${z}`, driver: 'ble', radio: 'simulated', zone: z, allowUuids: [UUID] })),
    zones: ids.map((id) => ({ id, pathLossExponent: EXPONENT })),
    rules: ids.map((z) => ({ id: `promo-${z}`, when: { event: 'zone.entered', zones: [z] }, send: { content: `promo-${z}`, signs: [`sign-${z}`], durationMs: 1000 } })),
    engagement: { proximity: { minDwellMs: MIN_DWELL_MS, minSamples: 3, exitAfterMs: 5000, lostAfterMs: 30_000 } },
  });
}


function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

interface Rig {
  engagement: Engagement;
  radios: SimulatedRadio[];
  drivers: BleDriver[];
  time: { wall: number; mono: number };
  dataDir: string;
}

function rig(config: GatewayConfig, publisher: ContentPublisher, onEvent: (e: CloudEvent, mono: number) => void, holders: number): Rig {
  const time = { wall: Date.parse('2026-11-23T10:00:00Z'), mono: 0 };
  const clock: Clock = { now: () => time.wall, monotonic: () => time.mono, isSynced: () => true };
  const bus = new Bus();
  const metrics = new Registry();
  const log = silentLogger();
  const makeEvent = eventFactory(config.gateway.id, () => time.wall);
  const events = {
    append: (e: CloudEvent) => {
      onEvent(e, time.mono);
      return Promise.resolve();
    },
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-bench-engagement-'));
  const byBeacon = new Map<string, string>();
  for (let i = 0; i < holders; i++) byBeacon.set(`ibeacon:${UUID}:${i >>> 16}:${i & 0xffff}`, `h${i}`);
  const consent = { consent: { personalisation: true }, tier: 'member' };
  const engagement = createEngagement({
    config,
    bus,
    events,
    makeEvent,
    publisher,
    holders: { get: () => consent, byBeacon: (k) => byBeacon.get(k) },
    clock,
    log,
    metrics,
    dataDir,
  });
  const radios: SimulatedRadio[] = [];
  const drivers: BleDriver[] = [];
  for (const d of config.devices) {
    if (d.driver !== 'ble') continue;
    const radio = new SimulatedRadio();
    radios.push(radio);
    drivers.push(createBleDriver({ config: bleDeviceSchema.parse(d), gatewayId: config.gateway.id, bus, log, metrics, clock, events, makeEvent }, radio));
  }
  return { engagement, radios, drivers, time, dataDir };
}

async function startRig(r: Rig): Promise<void> {
  r.engagement.start();
  for (const d of r.drivers) await d.start();
}

async function stopRig(r: Rig): Promise<void> {
  for (const d of r.drivers) await d.stop();
  await r.engagement.stop();
  rmSync(r.dataDir, { recursive: true, force: true });
}

async function phaseThroughput(o: { phones: number; zones: number; seconds: number; seed: number }) {
  const rand = prng(o.seed);
  const config = benchConfig(o.zones);
  let contents = 0;
  const publisher: ContentPublisher = {
    send: () => {
      contents++;
      return true;
    },
  };
  let enters = 0;
  let exits = 0;
  let flaps = 0;
  let wrongZone = 0;
  const enteredAt = new Map<string, number>();
  const phoneZone: number[] = [];
  const r = rig(
    config,
    publisher,
    (e, mono) => {
      const data = e.data as { zone: string };
      const key = `${e.subject}|${data.zone}`;
      if (e.type === EVENT_TYPES.zoneEntered) {
        enters++;
        enteredAt.set(key, mono);
        if (`z${phoneZone[Number(e.subject!.slice(1))]}` !== data.zone) wrongZone++;
      } else if (e.type === EVENT_TYPES.zoneExited) {
        exits++;
        const at = enteredAt.get(key);
        if (at !== undefined && mono - at < MIN_DWELL_MS) flaps++;
        enteredAt.delete(key);
      }
    },
    o.phones,
  );
  await startRig(r);
  const adverts = Array.from({ length: o.phones }, (_, i) => encodeIBeacon({ uuid: UUID, major: i >>> 16, minor: i & 0xffff, measuredPower: TX }));
  const nextMove: number[] = [];
  for (let i = 0; i < o.phones; i++) {
    phoneZone.push(Math.floor(rand() * o.zones));
    nextMove.push(Math.floor(20 + rand() * 40));
  }
  const near = rssiAtDistance(1.5, TX, EXPONENT);
  const far = rssiAtDistance(15, TX, EXPONENT);
  let count = 0;
  const t0 = performance.now();
  for (let s = 0; s < o.seconds; s++) {
    for (let i = 0; i < o.phones; i++) {
      if (s >= nextMove[i]!) {
        phoneZone[i] = Math.floor(rand() * o.zones);
        nextMove[i] = s + Math.floor(20 + rand() * 40);
      }
      // Spread the phones over the second so samples carry distinct times.
      r.time.mono = s * 1000 + Math.floor((i * 1000) / o.phones);
      r.time.wall = Date.parse('2026-11-23T10:00:00Z') + r.time.mono;
      const zone = phoneZone[i]!;
      r.radios[zone]!.feed({ data: adverts[i]!, rssi: Math.round(near + 4 * gaussian(rand)) });
      r.radios[(zone + 1) % o.zones]!.feed({ data: adverts[i]!, rssi: Math.round(far + 4 * gaussian(rand)) });
      count += 2;
    }
    r.time.mono = (s + 1) * 1000;
    r.engagement.tick();
  }
  // Let everybody be lost so every stay closes and is checked for flaps.
  for (let s = 0; s < 40; s++) {
    r.time.mono += 1000;
    r.engagement.tick();
  }
  const elapsedMs = performance.now() - t0;
  await stopRig(r);
  return { adverts: count, elapsedMs, enters, exits, flaps, wrongZone, contents };
}

/** A sign's side of the broker: one mqtt.js client subscribed to every sign's content topic. */
async function phaseLatency(o: { zones: number; triggers: number; seed: number }) {
  const rand = prng(o.seed + 1);
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const connect = async (clientId: string): Promise<MqttClient> => {
    const c = mqtt.connect({ host: '127.0.0.1', port, clientId, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    const stream = (c as unknown as { stream?: Socket }).stream;
    stream?.setNoDelay?.(true);
    return c;
  };
  const sign = await connect('sign-all');
  const gateway = await connect('gw-bench');
  await sign.subscribeAsync('gatehouse/gw-bench/+/content', { qos: 0 });

  const waiting = new Map<string, (at: number) => void>();
  sign.on('message', (_topic, payload) => {
    const at = performance.now();
    const { contentId } = JSON.parse(payload.toString()) as SignContent;
    waiting.get(contentId)?.(at);
    waiting.delete(contentId);
  });
  let lastContentId = '';
  const publisher: ContentPublisher = {
    send: (signId, content) => {
      lastContentId = content.contentId;
      gateway.publish(`gatehouse/gw-bench/${signId}/content`, JSON.stringify(content), { qos: 0 });
      return true;
    },
  };
  const config = benchConfig(o.zones);
  const r = rig(config, publisher, () => {}, o.triggers);
  await startRig(r);
  const near = rssiAtDistance(1.5, TX, EXPONENT);
  const samples: number[] = [];
  for (let i = 0; i < o.triggers; i++) {
    const zone = Math.floor(rand() * o.zones);
    const advert = encodeIBeacon({ uuid: UUID, major: i >>> 16, minor: i & 0xffff, measuredPower: TX });
    // Each phone is new and its zone's sign idle (the rule shows content for 1 s): the third sample decides the entry.
    r.time.mono += 2_000;
    r.radios[zone]!.feed({ data: advert, rssi: Math.round(near) });
    r.time.mono += 200;
    r.radios[zone]!.feed({ data: advert, rssi: Math.round(near) });
    r.time.mono += 200;
    lastContentId = '';
    const start = performance.now();
    r.radios[zone]!.feed({ data: advert, rssi: Math.round(near) });
    if (!lastContentId) continue;
    const received = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(Number.NaN), 2_000);
      waiting.set(lastContentId, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
    if (Number.isFinite(received)) samples.push(received - start);
  }
  await stopRig(r);
  await sign.endAsync();
  await gateway.endAsync();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  return { samples };
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return Math.round(sorted[idx]! * 1000) / 1000;
}

const invokedDirectly = process.argv[1] !== undefined && /scripts[\\/]bench[\\/]engagement\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k!, v === undefined ? true : Number.isNaN(Number(v)) ? v : Number(v)]));
  run(args).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { Bus } from '../../gateway/bus/bus.js';
import type { Driver } from '../../gateway/core/driver.js';
import type { Alarm, CredentialRead, DeviceStatus } from '../../gateway/core/types.js';
import { openSerialTransport, type Transport } from '../../drivers/serial/transport.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import { osdpDeviceSchema, type OsdpDeviceConfig } from '../../drivers/osdp/config.js';
import { createDriverWith } from '../../drivers/osdp/driver.js';
import { OsdpLineHost } from '../../drivers/osdp/line-host.js';
import { OsdpSimulator, type SimFeedback } from '../../drivers/osdp/sim.js';
import { createPtyPair, hasSocat, type PtyPair } from '../helpers/pty.js';
import { waitFor } from '../../scripts/simulate/child.js';
import { standaloneOsdpContext } from '../../drivers/osdp/standalone.js';

const socat = hasSocat();
if (!socat) console.warn('socat is not installed: skipping the OSDP thread tests (apt-get install socat)');

interface Lane {
  pair: PtyPair;
  simTransport: Transport;
  sim: OsdpSimulator;
  driver: Driver;
  registry: Registry;
  credentials: CredentialRead[];
  statuses: DeviceStatus[];
  alarms: Alarm[];
  feedback: SimFeedback[];
  errors(code: string, reason?: string): Promise<number>;
  exchanges(): Promise<number>;
}

/** A 2-reader OSDP bus on a real PTY pair: the simulated readers on one end, the driver (on the host given) on the other. */
async function lane(host: OsdpLineHost | undefined, extra: Partial<OsdpDeviceConfig> = { thread: 'worker' }): Promise<Lane> {
  const pair = await createPtyPair();
  const simTransport = await openSerialTransport({ path: pair.device, baudRate: 115200 });
  const sim = new OsdpSimulator({ transport: simTransport, baudRate: 115200, readers: [{ address: 0 }, { address: 1 }] });
  const feedback: SimFeedback[] = [];
  sim.on('feedback', (f: SimFeedback) => feedback.push(f));
  const config = osdpDeviceSchema.parse({ id: 'bus', driver: 'osdp', path: pair.gateway, offlineAfterMs: 1000, readers: [{ address: 0 }, { address: 1 }], ...extra });
  const bus = new Bus();
  const registry = new Registry();
  const ctx = standaloneOsdpContext(config, bus, registry);
  const driver = createDriverWith({ ...(host ? { lineHost: host } : {}), reopenInitialMs: 100 })(ctx);
  const l: Lane = {
    pair,
    simTransport,
    sim,
    driver,
    registry,
    credentials: [],
    statuses: [],
    alarms: [],
    feedback,
    errors: async (code, reason) =>
      (await registry.getSingleMetric('gatehouse_osdp_errors_total')!.get()).values.filter((v) => v.labels.code === code && (reason === undefined || v.labels.reason === reason)).reduce((n, v) => n + v.value, 0),
    exchanges: async () => (await registry.getSingleMetric('gatehouse_osdp_exchanges_total')!.get()).values.reduce((n, v) => n + v.value, 0),
  };
  bus.on('credential', (c) => {
    l.credentials.push(c);
    driver.feedback!(c.reader, { decision: { result: 'granted', reason: 'ok', laneId: 'l', zoneId: 'z', direction: 'in', flags: {}, at: c.at }, pulseMs: 500 });
  });
  bus.on('device.status', (s) => l.statuses.push(s));
  bus.on('alarm', (a) => l.alarms.push(a));
  await driver.start();
  return l;
}

const online = (l: Lane, reader: string, after = 0) => l.statuses.slice(after).some((s) => s.reader === reader && s.state === 'online');

/** Presents a card at reader 0 and waits for it at the gateway and for its LED back at the reader. */
async function cardRoundTrip(l: Lane, card: number): Promise<void> {
  const leds = l.feedback.filter((f) => f.address === 0 && f.command === 'LED').length;
  l.sim.presentCard(0, encodeCard('H10301', { facility: 9, card }));
  await waitFor(() => l.credentials.some((c) => c.credential.value === `9:${card}`), 10_000, `card ${card} at the gateway`, 20);
  await waitFor(() => l.feedback.filter((f) => f.address === 0 && f.command === 'LED').length > leds, 10_000, `LED for card ${card}`, 20);
}

describe.skipIf(!socat)('OSDP lines on their own thread', () => {
  const lanes: Lane[] = [];
  afterEach(async () => {
    for (const l of lanes.splice(0)) {
      await l.driver.stop();
      l.sim.close();
      await l.simTransport.close();
      await l.pair.close();
    }
  });

  it('runs two buses on one worker thread, counts their exchanges, and ends the thread with the last bus', async () => {
    const host = new OsdpLineHost();
    const a = await lane(host);
    const b = await lane(host);
    lanes.push(a, b);
    expect(host.running()).toBe(true);
    for (const l of [a, b]) await waitFor(() => online(l, '0') && online(l, '1'), 10_000, 'readers online', 20);
    await cardRoundTrip(a, 1);
    await cardRoundTrip(b, 2);
    // Counts come across every 250 ms, summed.
    await waitFor(async () => (await a.exchanges()) > 20 && (await b.exchanges()) > 20, 5_000, 'exchange counts from the thread', 20);
    await a.driver.stop();
    expect(host.running()).toBe(true);
    await b.driver.stop();
    expect(host.running()).toBe(false);
  });

  it('reports a dead thread on every bus it ran (error, readers offline, alarm), restarts it and serves cards again', async () => {
    const host = new OsdpLineHost({ restartInitialMs: 100 });
    const l = await lane(host);
    lanes.push(l);
    await waitFor(() => online(l, '0'), 10_000, 'reader 0 online', 20);
    await cardRoundTrip(l, 10);
    const mark = l.statuses.length;
    await host.terminate();
    await waitFor(() => l.statuses.slice(mark).some((s) => s.reader === '0' && s.state === 'offline'), 5_000, 'reader 0 offline', 20);
    expect(await l.errors('GH_OSDP_WORKER', 'worker_failed')).toBe(1);
    expect(l.alarms.some((a) => a.kind === 'reader_offline' && a.active && a.source === 'bus/0')).toBe(true);
    await waitFor(() => online(l, '0', mark), 10_000, 'reader 0 back online', 20);
    expect(host.restarts()).toBe(1);
    expect(l.alarms.some((a) => a.kind === 'reader_offline' && !a.active && a.source === 'bus/0')).toBe(true);
    await cardRoundTrip(l, 11);
  });

  it('reopens the buses waiting for a restart when another bus starts the thread first', async () => {
    const host = new OsdpLineHost({ restartInitialMs: 60_000 });
    const a = await lane(host);
    lanes.push(a);
    await waitFor(() => online(a, '0'), 10_000, 'reader 0 of bus a online', 20);
    const mark = a.statuses.length;
    await host.terminate();
    await waitFor(() => a.statuses.slice(mark).some((s) => s.reader === '0' && s.state === 'offline'), 5_000, 'bus a offline', 20);
    // A driver starting now (its supervisor restarting it, say) brings the thread back before the minute is up.
    const b = await lane(host);
    lanes.push(b);
    await waitFor(() => online(b, '0') && online(a, '0', mark), 10_000, 'both buses online', 20);
    expect(host.restarts()).toBe(1);
    await cardRoundTrip(a, 40);
    await cardRoundTrip(b, 41);
  });

  it('runs the bus on the main thread when no worker thread can be started, and says so', async () => {
    const host = new OsdpLineHost({
      createWorker: () => {
        throw new Error('no threads here');
      },
    });
    const l = await lane(host);
    lanes.push(l);
    expect(await l.errors('GH_OSDP_WORKER', 'worker_unavailable')).toBe(1);
    expect(host.running()).toBe(false);
    await waitFor(() => online(l, '0'), 10_000, 'reader 0 online', 20);
    await cardRoundTrip(l, 20);
  });

  it('keeps a bus on the main thread unless it asks for the worker (thread: main is the default)', async () => {
    const host = new OsdpLineHost();
    const l = await lane(host, {});
    lanes.push(l);
    await waitFor(() => online(l, '0'), 10_000, 'reader 0 online', 20);
    await cardRoundTrip(l, 30);
    expect(host.running()).toBe(false);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { venueSchema, type VenueConfig } from '../../config/sections/venue.js';
import { systemClock, type Clock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Alarm } from '../../gateway/core/types.js';
import { eventFactory, type CloudEvent } from '../../gateway/events/cloudevent.js';
import { createVenueLink, VENUE_CONFLICT_EVENT, type VenueLink } from './link.js';
import { encodeMove } from './protocol.js';

/** An in-process MQTT 3.1.1 broker (aedes) that can be stopped and started again on the same port. */
async function startBroker(port = 0): Promise<{ port: number; stop: () => Promise<void> }> {
  const aedes = new Aedes();
  await aedes.listen();
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Node {
  link: VenueLink;
  metrics: Registry;
  alarms: Alarm[];
  events: CloudEvent[];
  dataDir: string;
}

describe('venue link (in-process broker)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const tmp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-venue-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  function config(port: number, over: Partial<VenueConfig> = {}): VenueConfig {
    return venueSchema.parse({ id: 'stadium', url: `mqtt://127.0.0.1:${port}`, peers: ['a', 'b', 'c'], mqttVersion: 4, reconnectMs: 100, snapshotIntervalMs: 100, ...over });
  }

  function node(gatewayId: string, cfg: VenueConfig, opts: { dataDir?: string; clock?: Clock; start?: boolean; drainMs?: number } = {}): Node {
    const metrics = new Registry();
    const alarms: Alarm[] = [];
    const events: CloudEvent[] = [];
    const dataDir = opts.dataDir ?? tmp();
    const clock = opts.clock ?? systemClock({ assumeSynced: true });
    const link = createVenueLink({
      config: cfg,
      gatewayId,
      baseDir: dataDir,
      dataDir,
      clock,
      log: silentLogger(),
      metrics,
      events: { append: async (e) => void events.push(e) },
      makeEvent: eventFactory(gatewayId, clock.now),
      raiseAlarm: (a) => alarms.push(a),
      flushMs: 10,
      ...(opts.drainMs !== undefined ? { drainMs: opts.drainMs } : {}),
    });
    if (opts.start !== false) link.start();
    cleanups.push(() => link.stop());
    return { link, metrics, alarms, events, dataDir };
  }

  const metric = async (r: Registry, name: string, labels: Record<string, string> = {}) => {
    const m = (await r.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return m?.value ?? 0;
  };

  it('shares a grant: the peer sees the holder inside and counts occupancy once', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const a = node('a', config(broker.port));
    const b = node('b', config(broker.port));
    await Promise.all([a.link.whenVerified(), b.link.whenVerified()]);
    expect(await metric(a.metrics, 'gatehouse_venue_verified')).toBe(1);
    a.link.record({ holderRef: 'h1', zoneId: 'bowl', direction: 'in', at: Date.now() });
    await eventually(() => b.link.presence('h1', 'bowl')?.dir === 'in', 'b to learn of h1');
    expect(b.link.occupancy('bowl')).toBe(1);
    expect(a.link.occupancy('bowl')).toBe(1);
    expect(b.link.status()).toMatchObject({ connected: true, verified: true, peers: { a: { seq: 1 } } });
    expect(a.link.status().seq).toBe(1);
  });

  it('ignores and counts messages from unknown gateways, malformed payloads and replays, without a crash', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const b = node('b', config(broker.port));
    await b.link.whenVerified();
    const intruder = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4 });
    cleanups.push(() => intruder.endAsync(true));
    const move = { gatewayId: 'a', seq: 1, holderRef: 'h', zoneId: 'bowl', direction: 'in' as const, at: Date.now() };
    await intruder.publishAsync('venue/stadium/move/mallory', encodeMove({ ...move, gatewayId: 'mallory' }, Date.now()), { qos: 1 });
    await intruder.publishAsync('venue/stadium/move/a', '{not json', { qos: 1 });
    await intruder.publishAsync('venue/stadium/move/a', encodeMove({ ...move, gatewayId: 'c' }, Date.now()), { qos: 1 });
    await intruder.publishAsync('venue/stadium/move/a', encodeMove(move, Date.now()), { qos: 1 });
    await intruder.publishAsync('venue/stadium/move/a', encodeMove(move, Date.now()), { qos: 1 });
    await eventually(async () => (await metric(b.metrics, 'gatehouse_venue_messages_total', { type: 'move', result: 'duplicate' })) === 1, 'the replay to be counted');
    expect(await metric(b.metrics, 'gatehouse_venue_rejected_total', { reason: 'unknown_gateway' })).toBe(1);
    expect(await metric(b.metrics, 'gatehouse_venue_rejected_total', { reason: 'not_json' })).toBe(1);
    expect(await metric(b.metrics, 'gatehouse_venue_rejected_total', { reason: 'topic_mismatch' })).toBe(1);
    expect(b.link.occupancy('bowl')).toBe(1);
  });

  it('reports a peer whose clock is beyond the skew bound', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const b = node('b', config(broker.port, { maxClockSkewMs: 1_000 }));
    await b.link.whenVerified();
    const peer = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4 });
    cleanups.push(() => peer.endAsync(true));
    const ahead = Date.now() + 60_000;
    await peer.publishAsync('venue/stadium/move/c', encodeMove({ gatewayId: 'c', seq: 1, zoneId: 'bowl', direction: 'in', at: ahead }, ahead), { qos: 1 });
    await eventually(async () => (await metric(b.metrics, 'gatehouse_venue_clock_skew_total', { peer: 'c' })) === 1, 'skew to be reported');
    expect(b.link.status().peers.c?.skewMs).toBeGreaterThan(50_000);
    // Applied all the same: every gateway must order the same movements the same way.
    expect(b.link.occupancy('bowl')).toBe(1);
  });

  it('reports a conflict made while two gateways could not see each other, once, from the gateway of the second entry', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const a = node('a', config(broker.port));
    const b = node('b', config(broker.port), { start: false });
    const t = Date.now();
    a.link.record({ holderRef: 'h1', zoneId: 'bowl', direction: 'in', at: t });
    b.link.record({ holderRef: 'h1', zoneId: 'bowl', direction: 'in', at: t + 5 });
    expect(b.link.verified()).toBe(false);
    await a.link.whenVerified();
    b.link.start();
    await eventually(() => b.events.length === 1 && a.link.status().peers.b?.seq === 1, 'the conflict to be reported and shared');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.events).toEqual([]);
    expect(b.events).toHaveLength(1);
    expect(b.events[0]).toMatchObject({ type: VENUE_CONFLICT_EVENT, subject: 'h1', data: { zone: 'bowl', first: { gateway: 'a', seq: 1 }, second: { gateway: 'b', seq: 1 } } });
    expect(b.alarms.filter((x) => x.kind === 'apb_conflict')).toHaveLength(1);
    expect(await metric(a.metrics, 'gatehouse_venue_conflicts_total', { role: 'seen' })).toBe(1);
    expect(a.link.occupancy('bowl')).toBe(2);
    expect(b.link.occupancy('bowl')).toBe(2);
  });

  it('raises link_down when the broker goes, decides unverified meanwhile, and catches up when it returns', async () => {
    const broker = await startBroker();
    const a = node('a', config(broker.port));
    const b = node('b', config(broker.port));
    await Promise.all([a.link.whenVerified(), b.link.whenVerified()]);
    await broker.stop();
    await eventually(() => !a.link.verified() && !b.link.verified(), 'both links to notice');
    expect(a.alarms.at(-1)).toMatchObject({ kind: 'link_down', active: true, code: 'GH_VENUE_LINK' });
    expect(await metric(a.metrics, 'gatehouse_venue_link_up')).toBe(0);
    a.link.record({ holderRef: 'h2', zoneId: 'bowl', direction: 'in', at: Date.now() });
    const again = await startBroker(broker.port);
    cleanups.push(() => again.stop());
    await Promise.all([a.link.whenVerified(), b.link.whenVerified()]);
    await eventually(() => b.link.presence('h2', 'bowl')?.dir === 'in', 'b to catch up with the movement made during the outage');
    expect(a.alarms.at(-1)).toMatchObject({ kind: 'link_down', active: false });
    expect(b.link.state.digest()).toBe(a.link.state.digest());
  });

  it('goes on numbering after a restart, from its disk or, when the disk was lost, from its retained state', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const dataDir = tmp();
    const b = node('b', config(broker.port));
    const a1 = node('a', config(broker.port), { dataDir });
    await a1.link.whenVerified();
    a1.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'in', at: Date.now() });
    a1.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'out', at: Date.now() + 1 });
    await eventually(() => b.link.status().peers.a?.seq === 2, 'b to see both');
    await a1.link.stop();

    const a2 = node('a', config(broker.port), { dataDir });
    expect(a2.link.status().seq).toBe(2);
    await a2.link.whenVerified();
    expect(a2.link.record({ zoneId: 'bowl', direction: 'in', at: Date.now() }).seq).toBe(3);
    await eventually(() => b.link.occupancy('bowl') === 1, 'b to count the third movement');
    await eventually(() => b.link.status().peers.a?.seq === 3, 'a to publish its snapshot');
    await a2.link.stop();

    const a3 = node('a', config(broker.port));
    const early = a3.link.record({ zoneId: 'bowl', direction: 'in', at: Date.now() });
    expect(early.seq).toBe(1);
    await a3.link.whenVerified();
    await eventually(() => a3.link.status().seq === 4, 'a to adopt its retained numbering');
    expect(a3.link.occupancy('bowl')).toBe(2);
    await eventually(() => b.link.occupancy('bowl') === 2, 'b to count the renumbered movement once');
  });

  it('shows a movement to the very next decision, before it is merged off the decision path', async () => {
    const n = node('a', config(1), { start: false });
    const t = Date.now();
    n.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'in', at: t });
    expect(n.link.presence('h', 'bowl')).toEqual({ dir: 'in', at: t, lastInAt: t, gatewayId: 'a' });
    expect(n.link.occupancy('bowl')).toBe(1);
    n.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'out', at: t + 1 });
    // An older movement queued later does not displace the newer position.
    n.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'in', at: t - 5 });
    expect(n.link.presence('h', 'bowl')).toEqual({ dir: 'out', at: t + 1, lastInAt: t, gatewayId: 'a' });
    expect(n.link.presence('other', 'bowl')).toBeUndefined();
    expect(n.link.occupancy('bowl')).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(n.link.state.presence('h', 'bowl')).toMatchObject({ dir: 'out', at: t + 1 });
    expect(n.link.status().seq).toBe(3);
  });

  it('schedules nothing per decision: one drain timer merges the queued movements in a batch', async () => {
    const n = node('a', config(1), { start: false, drainMs: 20 });
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    cleanups.push(() => {
      intervals.mockRestore();
      immediates.mockRestore();
    });
    const t = Date.now();
    for (let i = 0; i < 50; i++) n.link.record({ holderRef: `h${i}`, zoneId: 'bowl', direction: 'in', at: t + i });
    expect(intervals).toHaveBeenCalledTimes(1);
    expect(immediates).not.toHaveBeenCalled();
    // Not merged yet (the gauge reads the merged state without draining it), but already visible to decisions.
    expect(await metric(n.metrics, 'gatehouse_venue_positions')).toBe(0);
    expect(n.link.occupancy('bowl')).toBe(50);
    await eventually(async () => (await metric(n.metrics, 'gatehouse_venue_positions')) === 50, 'the drain timer to merge the batch');
    expect(n.link.occupancy('bowl')).toBe(50);
  });

  it('does not bring back positions older than venue.positionRetentionHours after a restart', async () => {
    const dataDir = tmp();
    const t = Date.now();
    const cfg = config(1, { positionRetentionHours: 24 });
    const before = node('a', cfg, { dataDir, start: false });
    before.link.record({ holderRef: 'old', zoneId: 'bowl', direction: 'in', at: t - 30 * 3_600_000 });
    before.link.record({ holderRef: 'new', zoneId: 'bowl', direction: 'in', at: t - 3_600_000 });
    await before.link.stop();
    const after = node('a', cfg, { dataDir, start: false });
    expect(after.link.presence('old', 'bowl')).toBeUndefined();
    expect(after.link.presence('new', 'bowl')).toMatchObject({ dir: 'in', gatewayId: 'a' });
    // Occupancy counters are never expired.
    expect(after.link.occupancy('bowl')).toBe(2);
    expect(await metric(after.metrics, 'gatehouse_venue_positions')).toBe(1);
  });

  it('keeps deciding alone, with a link_down alarm, when a secret file is missing', async () => {
    const n = node('a', config(1, { password: { file: '/nonexistent/venue.pw' } }));
    expect(n.link.verified()).toBe(false);
    expect(n.alarms[0]).toMatchObject({ kind: 'link_down', active: true });
    n.link.record({ holderRef: 'h', zoneId: 'bowl', direction: 'in', at: Date.now() });
    expect(n.link.occupancy('bowl')).toBe(1);
    await n.link.stop();
    // A waiter after stop does not hang.
    await n.link.whenVerified();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { configSchema, type GatewayConfig } from '../../config/schema.js';
import { Bus, type BusTopics } from '../bus/bus.js';
import { silentLogger } from '../core/log.js';
import type { SignContent } from '../core/signage.js';
import { eventFactory, type CloudEvent, type EventPriority } from '../events/cloudevent.js';
import { EVENT_CATALOGUE, EVENT_TYPES } from './event-schemas.js';
import type { HolderInfo, TicketDirectory } from './holders.js';
import { createEngagement } from './index.js';
import { VISITS_DB_FILE } from './visits.js';

const START = Date.parse('2026-11-23T08:00:00Z');
const UUID = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';

function baseConfig(extra: Record<string, unknown> = {}): GatewayConfig {
  return configSchema.parse({
    gateway: { id: 'gw1' },
    storage: { dataDir: '/tmp/unused' },
    secrets: { credentialKey: { env: 'KEY' } },
    devices: [
      { id: 'radio-cafe', driver: 'ble', radio: 'simulated', zone: 'cafe' },
      { id: 'gate', driver: 'sim', credentials: ['1'] },
    ],
    zones: [{ id: 'main' }, { id: 'cafe', pathLossExponent: 2 }],
    lanes: [
      { id: 'in-1', reader: { device: 'gate' }, zone: 'main', direction: 'in' },
      { id: 'out-1', reader: { device: 'gate' }, zone: 'main', direction: 'out' },
    ],
    beacons: [{ id: 'merch-1', zone: 'main', ibeacon: { uuid: UUID, major: 1, minor: 1 }, measuredPower: -59 }],
    engagement: { proximity: { minSamples: 2, minDwellMs: 10_000, exitAfterMs: 2_000, lostAfterMs: 30_000, dwellEventMs: 60_000 } },
    ...extra,
  });
}

function harness(options: { config?: GatewayConfig; holders?: Record<string, HolderInfo>; holderLookup?: (ref: string) => HolderInfo | undefined; tickets?: TicketDirectory; sendOk?: boolean } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-engagement-'));
  const bus = new Bus((topic, err) => {
    throw new Error(`listener on ${topic} threw: ${String(err)}`);
  });
  const events: Array<{ event: CloudEvent; priority: EventPriority }> = [];
  const sink: { mode: 'ok' | 'reject' | 'throw' } = { mode: 'ok' };
  const sent: Array<{ sign: string; content: SignContent }> = [];
  const time = { wall: START, mono: 1_000_000, synced: true };
  const clock = { now: () => time.wall, monotonic: () => time.mono, isSynced: () => time.synced };
  const metrics = new Registry();
  const holders = options.holders ?? {
    alice: { tier: 'gold', consent: { personalisation: true }, displayName: 'Alice' },
    bob: { tier: 'gold', consent: { personalisation: false }, displayName: 'Bob' },
  };
  const engagement = createEngagement({
    config: options.config ?? baseConfig(),
    bus,
    events: {
      append: (event, priority) => {
        if (sink.mode === 'throw') throw new Error('disk gone');
        if (sink.mode === 'reject') return Promise.reject(new Error('outbox full'));
        events.push({ event, priority });
        return Promise.resolve();
      },
    },
    makeEvent: eventFactory('gw1', () => time.wall),
    publisher: {
      send: (sign, content) => {
        sent.push({ sign, content });
        return options.sendOk ?? true;
      },
    },
    holders: { get: options.holderLookup ?? ((ref) => holders[ref]), byBeacon: (key) => (key === `ibeacon:${UUID}:9:9` ? 'alice' : undefined) },
    ...(options.tickets ? { tickets: options.tickets } : {}),
    clock,
    log: silentLogger(),
    metrics,
    dataDir,
  });
  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= Math.min(left, 1000)) {
      const step = Math.min(left, 1000);
      time.wall += step;
      time.mono += step;
      vi.advanceTimersByTime(step);
    }
  };
  const sight = (s: Partial<BusTopics['sighting']>) => bus.emit('sighting', { observer: 'phone-7', beacon: 'merch-1', rssi: -60, at: time.wall, monoAt: time.mono, ...s });
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const decide = async (holderRef: string, direction: 'in' | 'out') => {
    bus.emit('decision', {
      result: 'granted',
      reason: 'ok',
      holderRef,
      laneId: direction === 'in' ? 'in-1' : 'out-1',
      zoneId: 'main',
      direction,
      flags: {},
      at: time.wall,
      deviceId: 'gate',
      monoIn: time.mono,
      monoOut: time.mono,
    });
    // Engagement handles decisions on the next turn of the event loop.
    await settle();
  };
  const types = () => events.map((e) => e.event.type);
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
  };
  const engagementMetrics = () => metrics.getMetricsAsJSON();
  return { engagement, bus, events, sent, time, advance, sight, decide, types, counter, dataDir, engagementMetrics, sink, settle };
}

/** Every emitted event must match its documented schema (docs/events.md). */
function expectValid(events: Array<{ event: CloudEvent }>) {
  for (const { event } of events) {
    const spec = EVENT_CATALOGUE.find((s) => s.type === event.type);
    expect(spec, event.type).toBeDefined();
    const r = spec!.data.safeParse(event.data);
    expect(r.success, `${event.type}: ${JSON.stringify(r.error?.issues)}`).toBe(true);
  }
}

describe('createEngagement', () => {
  let h: ReturnType<typeof harness> | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(async () => {
    if (h) {
      await h.engagement.stop();
      rmSync(h.dataDir, { recursive: true, force: true });
    }
    h = undefined;
    vi.useRealTimers();
  });

  it('turns a phone hearing a fixed beacon into zone entered, dwelled and exited with device ids only under consent', async () => {
    h = harness();
    h.engagement.start();
    for (let i = 0; i < 3; i++) {
      h.sight({ holderRef: 'alice' });
      h.sight({ holderRef: 'bob', observer: 'phone-8' });
      h.advance(1000);
    }
    const entered = h.events.filter((e) => e.event.type === EVENT_TYPES.zoneEntered);
    expect(entered.map((e) => [e.event.subject, e.priority])).toEqual([
      ['alice', 'presence'],
      ['bob', 'presence'],
    ]);
    expect(entered[0]!.event.data).toMatchObject({ zone: 'main', pseudonymised: false, beacon: 'merch-1', observer: 'phone-7' });
    expect(entered[1]!.event.data).toEqual({ zone: 'main', distanceM: expect.any(Number), pseudonymised: true });
    expect(entered[0]!.event.source).toBe('gatehouse://gw1/engagement');
    const occupancy = (await h.engagementMetrics()).find((m) => m.name === 'gatehouse_engagement_zone_occupancy');
    expect(occupancy?.values.map((v) => [v.labels.zone, v.value])).toEqual([
      ['main', 2],
      ['cafe', 0],
    ]);
    for (let i = 0; i < 60; i++) {
      h.sight({ holderRef: 'alice' });
      h.advance(1000);
    }
    expect(h.types()).toContain(EVENT_TYPES.zoneDwelled);
    // The app's `uuid:major:minor` form names the same fixed beacon.
    h.sight({ holderRef: 'alice', beacon: `${UUID}:1:1` });
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'unknown_beacon' })).toBe(0);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'accepted' })).toBe(67);
    h.advance(31_000);
    const exits = h.events.filter((e) => e.event.type === EVENT_TYPES.zoneExited);
    expect(exits.map((e) => [e.event.subject, (e.event.data as { reason: string }).reason])).toEqual(
      expect.arrayContaining([
        ['alice', 'lost'],
        ['bob', 'lost'],
      ]),
    );
    expectValid(h.events);
  });

  it('places phones heard by a zone radio in its zone, resolving the holder by beacon key or staying anonymous', async () => {
    h = harness();
    h.engagement.start();
    for (let i = 0; i < 2; i++) {
      h.sight({ observer: 'radio-cafe', beacon: `ibeacon:${UUID}:9:9`, rssi: -62, txPower: -59 });
      h.sight({ observer: 'radio-cafe', beacon: `ibeacon:${UUID}:5:5`, rssi: -62 });
      h.advance(500);
    }
    const entered = h.events.filter((e) => e.event.type === EVENT_TYPES.zoneEntered);
    expect(entered.map((e) => e.event.subject)).toEqual(['alice', undefined]);
    expect(entered.map((e) => (e.event.data as { zone: string }).zone)).toEqual(['cafe', 'cafe']);
    expect(entered[1]!.event.data).not.toHaveProperty('beacon');
  });

  it('ignores and counts impossible RSSI, unknown beacons and sightings from a clock it cannot trust', async () => {
    h = harness();
    h.engagement.start();
    h.sight({ holderRef: 'alice', rssi: 5 });
    h.sight({ holderRef: 'alice', rssi: Number.NaN });
    h.sight({ holderRef: 'alice', beacon: 'nobody-knows' });
    h.sight({ holderRef: 'alice', monoAt: h.time.mono + 60_000 });
    h.sight({ holderRef: 'alice', monoAt: h.time.mono - 3_600_000 });
    h.sight({ holderRef: 'alice' });
    h.sight({ holderRef: 'alice', monoAt: h.time.mono - 10 });
    h.sight({});
    expect(h.events).toEqual([]);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'anonymous' })).toBe(1);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'impossible_rssi' })).toBe(2);
    expect(await h.counter('gatehouse_errors_total', { code: 'GH_BLE_BAD_ADV' })).toBe(2);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'unknown_beacon' })).toBe(1);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'clock_skew' })).toBe(2);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'out_of_order' })).toBe(1);
    expect(await h.counter('gatehouse_engagement_sightings_total', { result: 'accepted' })).toBe(1);
  });

  it('survives a holder directory that throws inside the timer tick, counting GH_INTERNAL', async () => {
    let failing = false;
    const lookup = (ref: string): HolderInfo | undefined => {
      if (failing) throw new Error('store gone');
      return { consent: { personalisation: ref === 'alice' } };
    };
    h = harness({ holderLookup: lookup });
    h.engagement.start();
    h.sight({ holderRef: 'alice' });
    h.sight({ holderRef: 'alice' });
    expect(h.types()).toEqual([EVENT_TYPES.zoneEntered]);
    failing = true;
    h.advance(31_000);
    expect(await h.counter('gatehouse_errors_total', { code: 'GH_INTERNAL' })).toBe(1);
    failing = false;
    h.sight({ holderRef: 'alice' });
    h.sight({ holderRef: 'alice' });
    h.advance(1000);
    expect(h.types().at(-1)).toBe(EVENT_TYPES.zoneEntered);
  });

  it('counts wall-clock jumps without disturbing dwell, which runs on the monotonic clock', async () => {
    h = harness();
    h.engagement.start();
    h.advance(1000);
    h.time.wall += 3_600_000;
    h.advance(1000);
    expect(await h.counter('gatehouse_engagement_clock_jumps_total')).toBe(1);
  });

  it('starts and ends visits from decisions, with first-visit, streak and dwell facts', async () => {
    h = harness();
    h.engagement.start();
    await h.decide('alice', 'in');
    await h.decide('alice', 'in');
    h.advance(90_000);
    await h.decide('alice', 'out');
    await h.decide('alice', 'out');
    h.time.wall += 86_400_000;
    await h.decide('alice', 'in');
    expect(h.types()).toEqual([EVENT_TYPES.visitStarted, EVENT_TYPES.visitFirst, EVENT_TYPES.visitEnded, EVENT_TYPES.visitStarted, EVENT_TYPES.visitStreak]);
    expect(h.events[0]!.event).toMatchObject({ subject: 'alice', source: 'gatehouse://gw1/gate', data: { visitCount: 1, firstEver: true, streakDays: 1, lane: 'in-1' } });
    expect(h.events[1]!.event.data).toEqual({ scope: 'ever', season: '2026', zone: 'main' });
    expect(h.events[2]!.event.data).toMatchObject({ dwellS: 90, reason: 'exit', lane: 'out-1' });
    expect(h.events[4]!.event.data).toEqual({ unit: 'day', length: 2, zone: 'main' });
    expectValid(h.events);
  });

  it('ends a visit with no exit after the visit timeout', async () => {
    h = harness({ config: baseConfig({ engagement: { visitTimeoutHours: 1 } }) });
    h.engagement.start();
    await h.decide('bob', 'in');
    h.advance(3_600_000);
    expect(h.events.at(-1)!.event).toMatchObject({ type: EVENT_TYPES.visitEnded, data: { reason: 'timeout', dwellS: 3600 } });
    expectValid(h.events);
  });

  it('sends rule content to signs for consenting holders, withholds it for the control group, and reports acks as shown', async () => {
    const config = baseConfig({
      rules: [
        { id: 'welcome', when: { event: 'zone.entered', zones: ['main'] }, send: { content: 'merch-offer', signs: ['sign-1'], vars: { hi: 'Hi {name}' } } },
        { id: 'held', priority: 1, controlGroupPercent: 100, when: { event: 'visit.started' }, send: { content: 'welcome-back', signs: ['sign-2'] } },
      ],
    });
    h = harness({ config });
    h.engagement.start();
    for (let i = 0; i < 2; i++) {
      h.sight({ holderRef: 'alice' });
      h.sight({ holderRef: 'bob', observer: 'phone-8' });
      h.advance(500);
    }
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ sign: 'sign-1', content: { content: 'merch-offer', ruleId: 'welcome', holderRef: 'alice', vars: { hi: 'Hi Alice' } } });
    h.bus.emit('signage.ack', { deviceId: 'sign-1', contentId: h.sent[0]!.content.contentId, status: 'shown', at: h.time.wall });
    h.bus.emit('signage.ack', { deviceId: 'sign-1', contentId: 'unknown', status: 'shown', at: h.time.wall });
    expect(h.events.filter((e) => e.event.type === EVENT_TYPES.signageShown).map((e) => e.event.data)).toEqual([
      { sign: 'sign-1', content: 'merch-offer', contentId: h.sent[0]!.content.contentId, rule: 'welcome' },
    ]);
    await h.decide('alice', 'in');
    const withheld = h.events.find((e) => e.event.type === EVENT_TYPES.signageWithheld);
    expect(withheld?.event).toMatchObject({ subject: 'alice', data: { signs: ['sign-2'], content: 'welcome-back', rule: 'held', reason: 'control_group', trigger: 'visit.started' } });
    expect(h.sent).toHaveLength(1);
    expectValid(h.events);
  });

  it('counts events the outbox refuses (rejected or thrown) as GH_OUTBOX_APPEND and carries on', async () => {
    h = harness();
    h.engagement.start();
    const outbox = h.sink;
    outbox.mode = 'reject';
    await h.decide('alice', 'in');
    outbox.mode = 'throw';
    await h.decide('bob', 'in');
    await h.settle();
    expect(await h.counter('gatehouse_errors_total', { code: 'GH_OUTBOX_APPEND' })).toBe(4);
  });

  it('counts content a sign could not take as undelivered', async () => {
    h = harness({ sendOk: false, config: baseConfig({ rules: [{ id: 'k', personalised: false, when: { event: 'kiosk.interaction', item: 'scarf' }, send: { content: 'scarf-promo', signs: ['sign-1'] } }] }) });
    h.engagement.start();
    h.bus.emit('interaction', { deviceId: 'kiosk-1', holderRef: 'bob', item: 'scarf', action: 'view', at: h.time.wall, data: { size: 'M' } });
    h.bus.emit('interaction', { deviceId: 'kiosk-1', holderRef: 'alice', item: 'hat', action: 'view', at: h.time.wall, data: { size: 'L' } });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.content).not.toHaveProperty('holderRef');
    expect(await h.counter('gatehouse_rules_outcomes_total', { rule: 'k', result: 'undelivered' })).toBe(1);
    const kiosk = h.events.map((e) => e.event.data);
    expect(kiosk).toEqual([
      { device: 'kiosk-1', item: 'scarf', action: 'view', pseudonymised: true },
      { device: 'kiosk-1', item: 'hat', action: 'view', pseudonymised: false, data: { size: 'L' } },
    ]);
    expectValid(h.events);
  });

  it('reports ticket holders who never entered once their event window closed, once', async () => {
    const closed = [{ eventId: 'match-1', start: START + 3_600_000, end: START + 7_200_000, holders: ['alice', 'bob'] }];
    const tickets: TicketDirectory = { eventsEndedBetween: (after, until) => closed.filter((e) => e.end > after && e.end <= until) };
    h = harness({ tickets, config: baseConfig({ engagement: { noShowCheckMs: 60_000 } }) });
    h.engagement.start();
    h.advance(3_600_000);
    await h.decide('alice', 'in');
    h.advance(3_700_000);
    const noShows = h.events.filter((e) => e.event.type === EVENT_TYPES.noShow);
    expect(noShows.map((e) => e.event.subject)).toEqual(['bob']);
    expect(noShows[0]!.event.data).toEqual({ ticketEvent: 'match-1', start: new Date(START + 3_600_000).toISOString(), end: new Date(START + 7_200_000).toISOString() });
    h.advance(600_000);
    expect(h.events.filter((e) => e.event.type === EVENT_TYPES.noShow)).toHaveLength(1);
    expectValid(h.events);
  });

  it('applies reloaded rules and proximity settings without losing people already inside', async () => {
    h = harness();
    h.engagement.start();
    h.sight({ holderRef: 'alice' });
    h.sight({ holderRef: 'alice' });
    expect(h.sent).toHaveLength(0);
    h.engagement.reload(baseConfig({ rules: [{ id: 'exit-promo', when: { event: 'zone.exited' }, send: { content: 'bye', signs: ['door'] } }] }));
    h.advance(40_000);
    expect(h.sent.map((s) => s.content.content)).toEqual(['bye']);
  });

  it('handles decisions after the bus call returns, and still handles a pending one at stop', async () => {
    h = harness();
    h.engagement.start();
    h.bus.emit('decision', { result: 'granted', reason: 'ok', holderRef: 'bob', laneId: 'in-1', zoneId: 'main', direction: 'in', flags: {}, at: h.time.wall, deviceId: 'gate', monoIn: 0, monoOut: 0 });
    expect(h.events).toEqual([]);
    await h.engagement.stop();
    expect(h.types()).toEqual([EVENT_TYPES.visitStarted, EVENT_TYPES.visitFirst]);
  });

  it('writes the visit history in slices, one per turn of the event loop, so decisions interleave', async () => {
    h = harness({ holderLookup: () => ({ tier: 'gold', consent: { personalisation: false } }) });
    h.engagement.start();
    for (let i = 0; i < 1200; i++) {
      h.bus.emit('decision', { result: 'granted', reason: 'ok', holderRef: `fan-${i}`, laneId: 'in-1', zoneId: 'main', direction: 'in', flags: {}, at: h.time.wall, deviceId: 'gate', monoIn: h.time.mono, monoOut: h.time.mono });
    }
    await h.settle();
    const peek = new Database(join(h.dataDir, VISITS_DB_FILE), { readonly: true });
    const stored = () => (peek.prepare('SELECT count(*) AS n FROM holder_visits').get() as { n: number }).n;
    expect(stored()).toBe(0);
    h.advance(10_000);
    expect(stored()).toBe(500);
    // Holders seen while the flush runs wait for the next one (no tiny transaction every turn).
    for (let i = 0; i < 10; i++) {
      h.bus.emit('decision', { result: 'granted', reason: 'ok', holderRef: `late-${i}`, laneId: 'in-1', zoneId: 'main', direction: 'in', flags: {}, at: h.time.wall, deviceId: 'gate', monoIn: h.time.mono, monoOut: h.time.mono });
    }
    await h.settle();
    expect(stored()).toBe(1000);
    await h.settle();
    expect(stored()).toBe(1200);
    await h.settle();
    await h.settle();
    expect(stored()).toBe(1200);
    h.advance(10_000);
    expect(stored()).toBe(1210);
    peek.close();
  });

  it('on stop emits exits for everyone inside, flushes visit history and stops listening', async () => {
    h = harness();
    h.engagement.start();
    h.sight({ holderRef: 'alice' });
    h.sight({ holderRef: 'alice' });
    await h.decide('alice', 'in');
    await h.engagement.stop();
    expect(h.types().at(-1)).toBe(EVENT_TYPES.zoneExited);
    const n = h.events.length;
    await h.decide('alice', 'out');
    expect(h.events).toHaveLength(n);
    const again = harness();
    const dataDir = again.dataDir;
    await again.engagement.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

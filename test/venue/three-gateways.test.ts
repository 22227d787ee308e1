import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credential } from '../../gateway/core/types.js';
import type { EntitlementRecord } from '../../gateway/access/index.js';
import { VENUE_CONFLICT_EVENT } from '../../sync/venue/index.js';
import { eventually, hasMosquitto, mosquitto, startGatewayProcess, tempDir, type GatewayProcess, type Mosquitto } from './harness.js';

if (!hasMosquitto) console.warn('skipping the three-gateway venue test: mosquitto not found (apt-get install mosquitto)');

/**
 * Issue #11 end to end: three `gatehouse run` processes of one venue sharing
 * anti-passback and occupancy through a real Mosquitto broker.
 */
const CAP = 5;
const IDS = ['gw-a', 'gw-b', 'gw-c'];
const card = (n: number): Credential => ({ kind: 'card', value: String(1000 + n) });
const records: EntitlementRecord[] = Array.from({ length: 20 }, (_, i) => ({ holder: `h${i}`, credentials: [{ kind: 'card', value: String(1000 + i) }] }));

describe.skipIf(!hasMosquitto)('three gateways, one venue, one Mosquitto', () => {
  const tmp = tempDir('gatehouse-venue-e2e-');
  let broker: Mosquitto;
  let gws: GatewayProcess[] = [];
  let a: GatewayProcess, b: GatewayProcess, c: GatewayProcess;

  const occupancies = () => Promise.all(gws.map((g) => g.metric('gatehouse_access_occupancy', { zone: 'bowl' })));
  const allVerified = async () => (await Promise.all(gws.map((g) => g.metric('gatehouse_venue_verified')))).every((v) => v === 1);
  const settledAt = async (n: number) => (await occupancies()).every((o) => o === n);

  beforeAll(async () => {
    broker = await mosquitto(tmp.dir);
    gws = await Promise.all(
      IDS.map((id) => startGatewayProcess({ id, peers: IDS, venueUrl: broker.url, capacity: CAP, records, ...(id === 'gw-c' ? { apbUnverified: 'deny' as const } : {}) }, tmp.dir)),
    );
    [a, b, c] = gws as [GatewayProcess, GatewayProcess, GatewayProcess];
    await eventually(allVerified, 'all three venue links to catch up');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(gws.map((g) => g.stop()));
    await broker?.stop();
    tmp.remove();
  });

  it('denies at gateway B a holder who entered at gateway A a moment before', async () => {
    expect(await a.readers.in.scan(card(1))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(1), 'the entry to reach every gateway');
    expect(await b.readers.in.scan(card(1))).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    expect(await c.readers.in.scan(card(1))).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    // Leaving at C lets the holder in again at B.
    expect(await c.readers.out.scan(card(1))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(0), 'the exit to reach every gateway');
    expect(await b.readers.in.scan(card(1))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(1), 'the re-entry to reach every gateway');
  });

  it('counts occupancy across all three and never lets it exceed the cap while connected', async () => {
    let inside = 1;
    for (let i = 2; inside < CAP; i++) {
      const gw = gws[i % 3]!;
      expect(await gw.readers.in.scan(card(i))).toMatchObject({ result: 'granted' });
      inside++;
      await eventually(() => settledAt(inside), `occupancy ${inside} everywhere`);
    }
    for (const gw of gws) expect(await gw.readers.in.scan(card(10))).toMatchObject({ result: 'denied', reason: 'occupancy_full' });
    expect(Math.max(...(await occupancies()))).toBe(CAP);
    // Three leave (through different gateways): room for three more.
    for (const [gw, n] of [[a, 2], [b, 3], [c, 4]] as const) expect(await gw.readers.out.scan(card(n))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(CAP - 3), 'the exits to reach every gateway');
  });

  it('ignores hostile and replayed venue messages without a crash or a double count', async () => {
    const before = await occupancies();
    const intruder = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      await intruder.publishAsync('venue/stadium/move/gw-evil', JSON.stringify({ v: 1, t: 'move', g: 'gw-evil', s: 1, h: 'h0', z: 'bowl', d: 'i', a: Date.now(), at: Date.now() }), { qos: 1 });
      await intruder.publishAsync('venue/stadium/move/gw-a', Buffer.from([0xff, 0x00, 0x7b]), { qos: 1 });
      await intruder.publishAsync('venue/stadium/state/gw-a', '{"v":1,"t":"state","g":"gw-a","s":1e9,"c":{"bowl":[1e9,5]},"r":[],"at":1}', { qos: 1 });
      // A replay of gw-a's first movement, as an attacker who recorded it would send it.
      await intruder.publishAsync('venue/stadium/move/gw-a', JSON.stringify({ v: 1, t: 'move', g: 'gw-a', s: 1, h: 'h1', z: 'bowl', d: 'i', a: Date.now(), at: Date.now() }), { qos: 1 });
    } finally {
      await intruder.endAsync();
    }
    await eventually(async () => (await b.metric('gatehouse_venue_rejected_total', { reason: 'unknown_gateway' })) >= 1 && (await b.metric('gatehouse_venue_rejected_total', { reason: 'counters_sum' })) >= 1, 'the bad messages to be counted');
    expect(await b.metric('gatehouse_venue_rejected_total', { reason: 'not_json' })).toBeGreaterThanOrEqual(1);
    expect(await b.metric('gatehouse_venue_messages_total', { type: 'move', result: 'duplicate' })).toBeGreaterThanOrEqual(1);
    expect(await occupancies()).toEqual(before);
    expect(await a.readers.in.scan(card(2))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(before[0]! + 1), 'gateways to keep working');
    expect(await c.readers.out.scan(card(2))).toMatchObject({ result: 'granted' });
    await eventually(() => settledAt(before[0]!), 'the exit to reach every gateway');
  });

  it('keeps deciding while the broker is down, flags those decisions, converges when it returns and reports the partition\'s conflict once', async () => {
    await broker.stop();
    await eventually(async () => (await Promise.all(gws.map((g) => g.metric('gatehouse_venue_link_up')))).every((v) => v === 0), 'every gateway to notice the broker is gone');
    // The same holder enters at A and at B while they cannot see each other: a conflict.
    expect(await a.readers.in.scan(card(11))).toMatchObject({ result: 'granted' });
    expect(await b.readers.in.scan(card(11))).toMatchObject({ result: 'granted' });
    // Lane `in` of C is configured `apbUnverified: deny`; its exits still open.
    expect(await c.readers.in.scan(card(12))).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    expect(await c.readers.out.scan(card(5))).toMatchObject({ result: 'granted' });
    expect(await Promise.all(gws.map((g) => g.metric('gatehouse_alarms_active', { kind: 'link_down' })))).toEqual([1, 1, 1]);

    await broker.start();
    await eventually(allVerified, 'all three to reconnect and catch up');
    // 2 inside before + h11 twice - h5 = 3, the same at every gateway.
    await eventually(() => settledAt(CAP - 3 + 2 - 1), 'all three to converge');
    await eventually(async () => (await Promise.all(gws.map((g) => g.metric('gatehouse_venue_conflicts_total', { role: 'reported' })))).reduce((x, y) => x + y, 0) === 1, 'the conflict to be reported');
    // Give late snapshots a chance to make a second report (there must be none).
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await Promise.all(gws.map((g) => g.metric('gatehouse_venue_conflicts_total', { role: 'reported' })))).reduce((x, y) => x + y, 0)).toBe(1);
    expect(await b.metric('gatehouse_venue_conflicts_total', { role: 'reported' })).toBe(1);
    expect(await Promise.all(gws.map((g) => g.metric('gatehouse_alarms_active', { kind: 'link_down' })))).toEqual([0, 0, 0]);

    await Promise.all(gws.map((g) => g.stop()));
    const conflicts = gws.flatMap((g) => g.events().filter((e) => e.type === VENUE_CONFLICT_EVENT));
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ subject: 'h11', source: 'gatehouse://gw-b/venue', data: { zone: 'bowl', first: { gateway: 'gw-a' }, second: { gateway: 'gw-b' } } });
    const flagged = gws.flatMap((g) => g.events().filter((e) => e.type.startsWith('io.gatehouse.access.') && (e.data as { flags: { apbUnverified?: boolean } }).flags.apbUnverified === true));
    expect(flagged.map((e) => e.subject).sort()).toEqual(['h11', 'h11', 'h12', 'h5']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { Credential, Direction } from '../core/types.js';
import { Registry } from 'prom-client';
import { silentLogger } from '../core/log.js';
import { KEY, fakeClock, iterate, lane, removeDir, tempDir, zone, type FakeClock } from '../../test/access/harness.js';
import { createAccessEngine, type AccessEngine, type SharedAccessState } from './engine.js';
import { openEntitlementStore, type EntitlementStore } from './store.js';

/** Shared anti-passback and occupancy (issue #11): the engine's side of the venue link, with a fake link. */
interface FakeShared extends SharedAccessState {
  up: boolean;
  inside: Map<string, number>;
  positions: Map<string, { dir: Direction; at: number; lastInAt?: number }>;
  recorded: Array<{ holderRef?: string; zoneId: string; direction: Direction; at: number }>;
  since: number;
}

function fakeShared(): FakeShared {
  const s: FakeShared = {
    up: true,
    inside: new Map(),
    positions: new Map(),
    recorded: [],
    since: Number.NEGATIVE_INFINITY,
    verified: () => s.up,
    positionsSince: () => s.since,
    occupancy: (z) => s.inside.get(z) ?? 0,
    presence: (h, z) => s.positions.get(`${h}/${z}`),
    record(m) {
      s.recorded.push(m);
      s.inside.set(m.zoneId, (s.inside.get(m.zoneId) ?? 0) + (m.direction === 'in' ? 1 : -1));
      if (m.holderRef) s.positions.set(`${m.holderRef}/${m.zoneId}`, { dir: m.direction, at: m.at });
    },
  };
  return s;
}

const card = (value: string): Credential => ({ kind: 'card', value });
const zones = [zone('bowl', { antiPassback: { mode: 'hard' }, capacity: 2 }), zone('concourse')];
const lanes = [lane('in', 'bowl'), lane('out', 'bowl', { direction: 'out' }), lane('in-strict', 'bowl', { apbUnverified: 'deny' }), lane('out-strict', 'bowl', { direction: 'out', apbUnverified: 'deny' }), lane('in-free', 'concourse')];
const records = ['1', '2', '3', '4'].map((n) => ({ holder: `h${n}`, credentials: [{ kind: 'card' as const, value: n }] }));

describe('access engine with venue-shared state', () => {
  let r: { dir: string; store: EntitlementStore; engine: AccessEngine; clock: FakeClock } | undefined;
  let shared: FakeShared;
  afterEach(() => {
    r?.engine.close();
    r?.store.close();
    if (r) removeDir(r.dir);
    r = undefined;
  });

  async function start(): Promise<{ engine: AccessEngine; clock: FakeClock }> {
    shared = fakeShared();
    const dir = tempDir();
    const clock = fakeClock();
    const log = silentLogger();
    const metrics = new Registry();
    const store = openEntitlementStore({ dataDir: dir, key: KEY, clock, log, metrics });
    await store.applySnapshot(iterate(records), { version: 'v1', issuedAt: new Date(clock.now()).toISOString() });
    const engine = createAccessEngine({ store, zones, lanes, clock, metrics, log, timezone: 'UTC', stateDir: dir, shared });
    r = { dir, store, engine, clock };
    return r;
  }

  it('denies a holder whom another gateway let in, and records its own grants for the venue', async () => {
    const { engine, clock } = await start();
    shared.positions.set('h1/bowl', { dir: 'in', at: clock.now() - 1000 });
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'denied', reason: 'anti_passback', flags: { offline: true } });
    expect(engine.decide('in', card('2'))).toMatchObject({ result: 'granted' });
    expect(shared.recorded).toEqual([{ holderRef: 'h2', zoneId: 'bowl', direction: 'in', at: clock.now() }]);
  });

  it('reads occupancy from the venue: a zone full through other gateways is full here', async () => {
    const { engine } = await start();
    shared.inside.set('bowl', 2);
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'denied', reason: 'occupancy_full' });
    expect(engine.occupancy('bowl')).toBe(2);
  });

  it('flags decisions apbUnverified while the link cannot vouch, and grants by default', async () => {
    const { engine } = await start();
    shared.up = false;
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'granted', flags: { apbUnverified: true } });
    // A zone without anti-passback or cap does not depend on the venue.
    expect(engine.decide('in-free', card('2')).flags.apbUnverified).toBeUndefined();
    shared.up = true;
    expect(engine.decide('in', card('3')).flags.apbUnverified).toBeUndefined();
  });

  it('refuses entries but never exits on a lane set to apbUnverified: deny', async () => {
    const { engine } = await start();
    shared.up = false;
    expect(engine.decide('in-strict', card('1'))).toMatchObject({ result: 'denied', reason: 'anti_passback', flags: { apbUnverified: true } });
    shared.positions.set('h2/bowl', { dir: 'in', at: 0 });
    expect(engine.decide('out-strict', card('2'))).toMatchObject({ result: 'granted', flags: { apbUnverified: true } });
  });

  it('shares the take-back of a grant nobody used as the opposite movement', async () => {
    const { engine } = await start();
    engine.decide('in', card('1'));
    engine.recordPassage('in', 'h1', false);
    expect(shared.recorded.map((m) => m.direction)).toEqual(['in', 'out']);
    expect(shared.occupancy('bowl')).toBe(0);
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'granted' });
  });

  it('falls back to its own positions the venue no longer carries, unless older than the venue keeps positions', async () => {
    const { engine, clock } = await start();
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'granted' });
    // The venue lost the position (a restart beyond its recent movements): this gateway still knows h1 is inside.
    shared.positions.clear();
    clock.advance(60_000);
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    // Past the venue's retention, h1 is forgotten here as at every other gateway.
    shared.since = clock.now() - 30_000;
    expect(engine.decide('in', card('1'))).toMatchObject({ result: 'granted' });
  });
});

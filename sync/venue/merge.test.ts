import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VenueState, compareMovements, venueConflictWindows } from './merge.js';
import type { OriginSnapshot, VenueMovement } from './protocol.js';

const GATEWAYS = ['a', 'b', 'c'];

/** A venue history: each gateway's movements numbered 1..n, holders and zones from small pools so keys collide. */
const history = fc
  .array(fc.record({ g: fc.constantFrom(...GATEWAYS), h: fc.option(fc.constantFrom('h1', 'h2', 'h3'), { nil: undefined }), z: fc.constantFrom('z1', 'z2'), d: fc.constantFrom('in' as const, 'out' as const), at: fc.integer({ min: 0, max: 50 }) }), { maxLength: 40 })
  .map((rows) => {
    const seqs = new Map<string, number>();
    return rows.map((r) => {
      const seq = (seqs.get(r.g) ?? 0) + 1;
      seqs.set(r.g, seq);
      const m: VenueMovement = { gatewayId: r.g, seq, zoneId: r.z, direction: r.d, at: r.at };
      if (r.h !== undefined) m.holderRef = r.h;
      return m;
    });
  });

/** What the origin itself would publish after its first `n` movements. */
function snapshotAfter(moves: VenueMovement[], gatewayId: string, n: number, keep: number): OriginSnapshot {
  const own = moves.filter((m) => m.gatewayId === gatewayId).slice(0, n);
  const counters: OriginSnapshot['counters'] = {};
  for (const m of own) {
    const c = (counters[m.zoneId] ??= { in: 0, out: 0 });
    if (m.direction === 'in') c.in++;
    else c.out++;
  }
  return { gatewayId, seq: own.length, counters, recent: own.slice(Math.max(0, own.length - keep)) };
}

type Msg = { move: VenueMovement } | { snapshot: OriginSnapshot };

function deliver(state: VenueState, msgs: Msg[]): void {
  for (const m of msgs) {
    if ('move' in m) state.applyMovement(m.move);
    else state.applySnapshot(m.snapshot);
  }
}

function reference(moves: VenueMovement[]): VenueState {
  const s = new VenueState();
  for (const m of moves) s.applyMovement(m);
  return s;
}

/** Every movement (so the full state is reachable), some snapshots at random points, shuffled, some messages twice. */
const deliveries = history.chain((moves) =>
  fc.array(fc.tuple(fc.constantFrom(...GATEWAYS), fc.nat(20), fc.nat(5)), { maxLength: 6 }).chain((snaps) => {
    const all: Msg[] = [...moves.map((m) => ({ move: m })), ...snaps.map(([g, n, keep]) => ({ snapshot: snapshotAfter(moves, g, n, keep) }))];
    return fc.subarray(all).chain((dupes) => fc.shuffledSubarray([...all, ...dupes], { minLength: all.length + dupes.length }).map((order) => ({ moves, order })));
  }),
);

describe('VenueState merge', () => {
  it('converges to the same state for any order and duplication of the same messages', () => {
    fc.assert(
      fc.property(deliveries, ({ moves, order }) => {
        const s = new VenueState();
        deliver(s, order);
        expect(s.digest()).toBe(reference(moves).digest());
      }),
      { numRuns: 300 },
    );
  });

  it('never counts a movement twice: at every step each gateway\'s counters stay within its true totals', () => {
    fc.assert(
      fc.property(deliveries, ({ moves, order }) => {
        const s = new VenueState();
        const truth = reference(moves);
        for (const m of order) {
          deliver(s, [m]);
          for (const g of GATEWAYS) {
            const now = s.countersOf(g);
            const final = truth.countersOf(g);
            for (const [z, c] of Object.entries(now)) {
              expect(c.in).toBeLessThanOrEqual(final[z]?.in ?? 0);
              expect(c.out).toBeLessThanOrEqual(final[z]?.out ?? 0);
            }
          }
        }
        for (const z of ['z1', 'z2']) {
          const net = moves.filter((m) => m.zoneId === z).reduce((n, m) => n + (m.direction === 'in' ? 1 : -1), 0);
          expect(s.occupancy(z)).toBe(Math.max(0, net));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('reports each conflict at most once however often its movements arrive', () => {
    fc.assert(
      fc.property(deliveries, ({ order }) => {
        const s = new VenueState();
        const keys: string[] = [];
        for (const m of order) {
          deliver(s, [m]);
          keys.push(...s.takeConflicts().map((c) => c.key));
        }
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: 200 },
    );
  });

  it('resolves a holder\'s position by event time, then gateway id, then seq', () => {
    const s = new VenueState();
    s.applyMovement({ gatewayId: 'b', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'out', at: 100 });
    s.applyMovement({ gatewayId: 'a', seq: 7, holderRef: 'h', zoneId: 'z', direction: 'in', at: 50 });
    expect(s.presence('h', 'z')).toEqual({ dir: 'out', at: 100, gatewayId: 'b', lastInAt: 50 });
    s.applyMovement({ gatewayId: 'c', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 100 });
    expect(s.presence('h', 'z')).toMatchObject({ dir: 'in', gatewayId: 'c' });
    expect(compareMovements({ gatewayId: 'a', seq: 2, zoneId: 'z', direction: 'in', at: 1 }, { gatewayId: 'a', seq: 1, zoneId: 'z', direction: 'in', at: 1 })).toBeGreaterThan(0);
    expect(s.presence('nobody', 'z')).toBeUndefined();
  });

  it('finds two entries of one holder at two gateways with no exit between, and not when an exit lies between', () => {
    const s = new VenueState();
    s.applyMovement({ gatewayId: 'a', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 10 });
    s.applyMovement({ gatewayId: 'a', seq: 2, holderRef: 'h', zoneId: 'z', direction: 'out', at: 20 });
    s.applyMovement({ gatewayId: 'b', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 30 });
    expect(s.takeConflicts()).toEqual([]);
    s.applyMovement({ gatewayId: 'c', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 25 });
    const [c, ...more] = s.takeConflicts();
    expect(more).toEqual([]);
    expect(c).toMatchObject({ holderRef: 'h', zoneId: 'z', first: { gatewayId: 'c', seq: 1 }, second: { gatewayId: 'b', seq: 1 } });
    expect(c?.key).toBe('h|z|c:1|b:1');
  });

  it('leaves zones without anti-passback alone and honours a timed window', () => {
    const s = new VenueState({ conflictWindowMs: (z) => (z === 'timed' ? 60_000 : undefined) });
    for (const zone of ['free', 'timed']) {
      s.applyMovement({ gatewayId: 'a', seq: zone === 'free' ? 1 : 2, holderRef: 'h', zoneId: zone, direction: 'in', at: 0 });
      s.applyMovement({ gatewayId: 'b', seq: zone === 'free' ? 1 : 2, holderRef: 'h', zoneId: zone, direction: 'in', at: 120_000 });
    }
    expect(s.takeConflicts()).toEqual([]);
    s.applyMovement({ gatewayId: 'c', seq: 1, holderRef: 'h', zoneId: 'timed', direction: 'in', at: 130_000 });
    expect(s.takeConflicts().map((c) => c.key)).toEqual(['h|timed|b:2|c:1']);
  });

  it('ignores a snapshot older than what it knows but keeps its positions', () => {
    const s = new VenueState();
    const m1: VenueMovement = { gatewayId: 'a', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 1 };
    expect(s.applySnapshot({ gatewayId: 'a', seq: 2, counters: { z: { in: 2, out: 0 } }, recent: [m1] })).toBe('applied');
    expect(s.applySnapshot({ gatewayId: 'a', seq: 1, counters: { z: { in: 1, out: 0 } }, recent: [m1] })).toBe('stale');
    expect(s.applyMovement(m1)).toBe('duplicate');
    expect(s.occupancy('z')).toBe(2);
    expect(s.presence('h', 'z')?.dir).toBe('in');
  });

  it('compacts a gateway\'s own movements into a snapshot up to its first gap', () => {
    const s = new VenueState();
    for (const seq of [1, 2, 4]) s.applyMovement({ gatewayId: 'a', seq, zoneId: 'z', direction: 'in', at: seq });
    const snap = s.snapshotOf('a', []);
    expect(snap).toMatchObject({ seq: 2, counters: { z: { in: 2, out: 0 } } });
    expect(s.contiguousSeq('a')).toBe(2);
    s.applySnapshot(snap);
    expect(s.occupancy('z')).toBe(3);
    expect(s.contiguousSeq('nobody')).toBe(0);
  });

  it('keeps a bounded history per holder and never lets an old movement displace the position', () => {
    const s = new VenueState({ historyPerKey: 2 });
    s.applyMovement({ gatewayId: 'a', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 10 });
    s.applyMovement({ gatewayId: 'a', seq: 2, holderRef: 'h', zoneId: 'z', direction: 'out', at: 20 });
    s.applyMovement({ gatewayId: 'a', seq: 3, holderRef: 'h', zoneId: 'z', direction: 'in', at: 30 });
    s.applyMovement({ gatewayId: 'b', seq: 1, holderRef: 'h', zoneId: 'z', direction: 'in', at: 5 });
    expect(s.presence('h', 'z')).toMatchObject({ dir: 'in', at: 30, lastInAt: 30 });
    expect(s.takeConflicts()).toEqual([]);
  });
});

describe('VenueState position retention', () => {
  const move = (gatewayId: string, seq: number, at: number, direction: 'in' | 'out' = 'in', holderRef = 'h'): VenueMovement => ({ gatewayId, seq, holderRef, zoneId: 'z', direction, at });

  it('forgets positions older than the retention, ignores them when they arrive late, and keeps occupancy', () => {
    // 24 ms retention: cutoffs move in 1 ms steps.
    const s = new VenueState({ positionRetentionMs: 24 });
    s.applyMovement(move('a', 1, 10, 'in', 'old'));
    s.applyMovement(move('a', 2, 10, 'in', 'both'));
    s.applyMovement(move('b', 1, 50, 'out', 'both'));
    expect(s.expire(70)).toBe(1);
    expect(s.presence('old', 'z')).toBeUndefined();
    // The exit is recent: it stays, without the expired entry behind it.
    expect(s.presence('both', 'z')).toEqual({ dir: 'out', at: 50, gatewayId: 'b' });
    expect(s.positionCount()).toBe(1);
    // A late delivery of an expired movement (a peer's snapshot) is counted but is no position.
    expect(s.applyMovement(move('c', 1, 20, 'in', 'late'))).toBe('applied');
    expect(s.presence('late', 'z')).toBeUndefined();
    expect(s.occupancy('z')).toBe(2);
    // Cutoff unchanged: nothing to do.
    expect(s.expire(70.5)).toBe(0);
  });

  it('converges whether a gateway expires before, between or after the deliveries', () => {
    fc.assert(
      fc.property(deliveries, fc.nat(100), fc.integer({ min: 30, max: 80 }), ({ moves, order }, cut, now) => {
        const options = { positionRetentionMs: 24 };
        const reference = new VenueState(options);
        for (const m of moves) reference.applyMovement(m);
        reference.expire(now);
        const before = new VenueState(options);
        before.expire(now);
        deliver(before, order);
        const between = new VenueState(options);
        const at = Math.floor((cut / 100) * order.length);
        deliver(between, order.slice(0, at));
        between.expire(now);
        deliver(between, order.slice(at));
        expect(before.digest()).toBe(reference.digest());
        expect(between.digest()).toBe(reference.digest());
      }),
      { numRuns: 300 },
    );
  });

  it('sweeps a large state in slices, hiding expired positions before their slice is swept', () => {
    const s = new VenueState({ positionRetentionMs: 24 });
    for (let i = 0; i < 5_000; i++) s.applyMovement(move('a', i + 1, 10, 'in', `h${i}`));
    s.applyMovement(move('b', 1, 60, 'in', 'h4999'));
    const first = s.expire(80);
    expect(first).toBeLessThan(4_999);
    expect(s.positionCount()).toBeGreaterThan(1);
    expect(s.presence('h4998', 'z')).toBeUndefined();
    let dropped = first;
    for (let calls = 0; calls < 10 && s.positionCount() > 1; calls++) dropped += s.expire(80);
    expect(dropped).toBe(4_999);
    expect(s.presence('h4999', 'z')).toMatchObject({ dir: 'in', at: 60, gatewayId: 'b' });
    expect(s.occupancy('z')).toBe(5_001);
  });

  it('answers presence from a stored position: the same object until the position moves', () => {
    const s = new VenueState();
    s.applyMovement(move('a', 1, 10));
    const p = s.presence('h', 'z');
    expect(s.presence('h', 'z')).toBe(p);
    s.applyMovement(move('b', 1, 20, 'out'));
    expect(s.presence('h', 'z')).not.toBe(p);
    expect(p).toEqual({ dir: 'in', at: 10, lastInAt: 10, gatewayId: 'a' });
  });
});

describe('venueConflictWindows', () => {
  it('maps hard zones to no time limit, timed zones to their minutes, soft zones and others to none', () => {
    const w = venueConflictWindows([{ id: 'h', antiPassback: { mode: 'hard' } }, { id: 's', antiPassback: { mode: 'soft' } }, { id: 't', antiPassback: { mode: 'timed', minutes: 2 } }, { id: 'n', antiPassback: { mode: 'none' } }, { id: 'x' }]);
    expect(['h', 's', 't', 'n', 'x', 'unknown'].map(w)).toEqual([Number.POSITIVE_INFINITY, undefined, 120_000, undefined, undefined, undefined]);
  });
});

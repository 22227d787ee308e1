import type { Direction } from '../../gateway/core/types.js';
import type { OriginSnapshot, VenueMovement, ZoneCounter } from './protocol.js';

/**
 * The venue's merged state, pure (no I/O, no timers): the same set of
 * messages, in any order and with any duplication, gives the same state on
 * every gateway (docs/venue.md "How state merges").
 *
 * - Occupancy is a per-gateway counter set: each gateway owns its zone
 *   counters (entries, exits); the venue total is the sum over gateways.
 *   A gateway's counters are its last snapshot (covering seq 1..S) plus the
 *   single movements numbered above S, each counted once by its seq.
 * - Anti-passback position per holder and zone is the latest movement by
 *   (at, gatewayId, seq): event time with a deterministic tie-break.
 * - A conflict is two consecutive entries (in that order) of one holder into
 *   one zone, granted by two different gateways with no exit between, closer
 *   in time than the zone's anti-passback window.
 * - Positions are kept for a bounded time: movements older than the retention
 *   cutoff (`expire`) are forgotten, and ignored when they arrive later, so
 *   gateways with the same cutoff hold the same positions.
 */
export interface VenuePresence {
  dir: Direction;
  at: number;
  /** Latest known entry, for timed anti-passback. */
  lastInAt?: number;
  gatewayId: string;
}

export interface VenueConflict {
  /** Stable across gateways: holder, zone and the two movements' (gateway, seq). */
  key: string;
  holderRef: string;
  zoneId: string;
  first: VenueMovement;
  second: VenueMovement;
}

export interface VenueStateOptions {
  /**
   * Anti-passback window of a zone (ms): two entries by different gateways
   * closer than this are a conflict. Infinity for hard/soft anti-passback,
   * undefined for zones without anti-passback (never a conflict).
   */
  conflictWindowMs?: (zoneId: string) => number | undefined;
  /** Movements kept per holder and zone (for ordering and conflict checks). */
  historyPerKey?: number;
  /** Conflict keys remembered so a conflict is reported once. */
  maxRememberedConflicts?: number;
  /**
   * How long a movement counts for positions (ms); `expire(now)` forgets older
   * ones. Occupancy counters are never expired. Default: no limit.
   */
  positionRetentionMs?: number;
}

/** One holder's recent movements in one zone, oldest first, and the position they give. */
interface Track {
  moves: VenueMovement[];
  /** Replaced, never changed in place: callers may hold on to the object they were given. */
  position: Readonly<VenuePresence>;
}

interface Origin {
  baseSeq: number;
  base: Map<string, ZoneCounter>;
  /** Movements above `baseSeq`, by seq: each counted once. */
  above: Map<number, VenueMovement>;
  /** base + above. */
  counters: Map<string, ZoneCounter>;
}

export type ApplyResult = 'applied' | 'duplicate' | 'stale';

const SEP = '\u0000';
/** Cutoffs move in steps of 1/24 of the retention (an hour for a day), so gateways apply the same one. */
const EXPIRY_STEPS = 24;
/** Tracks swept per `expire` call: sweeping 100,000 positions at once held the event loop ~40 ms. */
const SWEEP_SLICE = 2_000;
const NO_CONFLICTS: readonly VenueConflict[] = Object.freeze([]);

/** Total order of movements: event time, then gateway id, then seq. */
export function compareMovements(a: VenueMovement, b: VenueMovement): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.gatewayId !== b.gatewayId) return a.gatewayId < b.gatewayId ? -1 : 1;
  return a.seq - b.seq;
}

export class VenueState {
  private readonly origins = new Map<string, Origin>();
  /** Zone -> holder -> track: two lookups by strings the caller already has, no key built per decision. */
  private readonly tracks = new Map<string, Map<string, Track>>();
  private readonly zoneTotals = new Map<string, number>();
  private readonly seenConflicts = new Set<string>();
  private pendingConflicts: VenueConflict[] = [];
  private readonly historyPerKey: number;
  private readonly maxConflicts: number;
  private readonly window: (zoneId: string) => number | undefined;
  private readonly retentionMs: number;
  private readonly expiryStepMs: number;
  /** Movements before this event time are not positions any more (see `expire`). */
  private retainFrom = Number.NEGATIVE_INFINITY;
  private sweep: Generator<number, number> | undefined;

  /** Event time before which movements are no positions (`-Infinity` until the first `expire`). */
  get positionsSince(): number {
    return this.retainFrom;
  }

  constructor(options: VenueStateOptions = {}) {
    this.historyPerKey = Math.max(2, options.historyPerKey ?? 4);
    this.maxConflicts = options.maxRememberedConflicts ?? 10_000;
    this.window = options.conflictWindowMs ?? (() => Number.POSITIVE_INFINITY);
    this.retentionMs = options.positionRetentionMs ?? Number.POSITIVE_INFINITY;
    this.expiryStepMs = Math.max(1, Math.floor(this.retentionMs / EXPIRY_STEPS));
  }

  /** Applies one movement; a seq already counted (duplicate, replay) changes nothing. */
  applyMovement(m: VenueMovement): ApplyResult {
    // Positions are idempotent on their own: a movement already counted through a snapshot may still be news for its holder.
    this.remember(m);
    const o = this.origin(m.gatewayId);
    if (m.seq <= o.baseSeq || o.above.has(m.seq)) return 'duplicate';
    o.above.set(m.seq, m);
    this.count(o.counters, m.zoneId, m.direction, 1);
    return 'applied';
  }

  /**
   * Applies a gateway's snapshot. A snapshot older than what is known of that
   * gateway only contributes its movements' positions (idempotent).
   */
  applySnapshot(s: OriginSnapshot): ApplyResult {
    for (const m of s.recent) this.remember(m);
    const o = this.origin(s.gatewayId);
    if (s.seq <= o.baseSeq) return 'stale';
    for (const [zone, c] of o.counters) this.addTotal(zone, -(c.in - c.out));
    o.baseSeq = s.seq;
    o.base = new Map(Object.entries(s.counters).map(([z, c]) => [z, { in: c.in, out: c.out }]));
    for (const seq of o.above.keys()) if (seq <= s.seq) o.above.delete(seq);
    o.counters = new Map([...o.base].map(([z, c]) => [z, { ...c }]));
    for (const [zone, c] of o.counters) this.addTotal(zone, c.in - c.out);
    for (const m of o.above.values()) this.count(o.counters, m.zoneId, m.direction, 1);
    return 'applied';
  }

  /**
   * The snapshot of one gateway as this state knows it, up to its highest seq
   * without a gap: exact for the local gateway. Applying it back compacts the
   * single movements into the base.
   */
  snapshotOf(gatewayId: string, recent: VenueMovement[]): OriginSnapshot {
    const o = this.origin(gatewayId);
    let seq = o.baseSeq;
    while (o.above.has(seq + 1)) seq++;
    const counters: Record<string, ZoneCounter> = {};
    const snapshot: OriginSnapshot = { gatewayId, seq, counters, recent: recent.filter((m) => m.seq <= seq) };
    const base = new Map([...o.base].map(([z, c]) => [z, { ...c }]));
    for (let s = o.baseSeq + 1; s <= seq; s++) {
      const m = o.above.get(s);
      if (m) this.count(base, m.zoneId, m.direction, 1, false);
    }
    for (const [z, c] of base) counters[z] = { ...c };
    return snapshot;
  }

  /** People inside a zone: the sum over gateways of entries minus exits (never below zero). */
  occupancy(zoneId: string): number {
    return Math.max(0, this.zoneTotals.get(zoneId) ?? 0);
  }

  /** Counters of one gateway (entries/exits per zone). */
  countersOf(gatewayId: string): Record<string, ZoneCounter> {
    const out: Record<string, ZoneCounter> = {};
    for (const [z, c] of this.origins.get(gatewayId)?.counters ?? []) out[z] = { ...c };
    return out;
  }

  /** Highest seq of a gateway counted without a gap (0 when nothing is known). */
  contiguousSeq(gatewayId: string): number {
    const o = this.origins.get(gatewayId);
    if (!o) return 0;
    let seq = o.baseSeq;
    while (o.above.has(seq + 1)) seq++;
    return seq;
  }

  /**
   * The holder's position in the zone: their latest movement by event time.
   * On the decision path: two map lookups, nothing allocated. The object is
   * shared and replaced (never changed) when the position moves.
   */
  presence(holderRef: string, zoneId: string): Readonly<VenuePresence> | undefined {
    const p = this.tracks.get(zoneId)?.get(holderRef)?.position;
    // Expired but not swept yet (see `expire`).
    return p !== undefined && p.at >= this.retainFrom ? p : undefined;
  }

  /**
   * Forgets positions whose latest movement is older than the retention, and
   * from now on ignores such movements when they arrive (a snapshot's recent
   * list, a late delivery). The cutoff is `now - retention` rounded down to a
   * step of 1/24 of the retention, so gateways whose clocks agree (NTP, see
   * venue.maxClockSkewMs) cut at the same event time and still converge.
   *
   * The sweep goes SWEEP_SLICE tracks per call, so it never holds the event
   * loop (and a card read) for long; until a track is swept, `presence` already
   * hides a position older than the cutoff. Cheap when nothing is to do.
   * Returns how many positions this call dropped.
   */
  expire(now: number): number {
    if (Number.isFinite(this.retentionMs)) {
      const cutoff = Math.floor((now - this.retentionMs) / this.expiryStepMs) * this.expiryStepMs;
      if (cutoff > this.retainFrom) {
        this.retainFrom = cutoff;
        // A newer cutoff supersedes a sweep under way: start again with it.
        this.sweep = this.sweeper();
      }
    }
    if (!this.sweep) return 0;
    const step = this.sweep.next();
    if (step.done) this.sweep = undefined;
    return step.value;
  }

  /** Drops expired movements track by track, pausing (yield) every SWEEP_SLICE tracks; returns or yields the count dropped since the last pause. */
  private *sweeper(): Generator<number, number> {
    let dropped = 0;
    let seen = 0;
    // Map iterators tolerate entries deleted on the way (ECMA-262 %MapIteratorPrototype%.next).
    for (const [zoneId, holders] of this.tracks) {
      for (const [holderRef, t] of holders) {
        // Oldest first: count the expired prefix.
        let n = 0;
        while (n < t.moves.length && t.moves[n]!.at < this.retainFrom) n++;
        if (n === t.moves.length) {
          holders.delete(holderRef);
          dropped++;
        } else if (n > 0) {
          t.moves.splice(0, n);
          t.position = positionOf(t.moves);
        }
        if (++seen % SWEEP_SLICE === 0) {
          yield dropped;
          dropped = 0;
        }
      }
      if (holders.size === 0) this.tracks.delete(zoneId);
    }
    return dropped;
  }

  /** Positions held (holder and zone pairs), for sizing and tests. */
  positionCount(): number {
    let n = 0;
    for (const holders of this.tracks.values()) n += holders.size;
    return n;
  }

  /** Conflicts found since the last call, each once. */
  takeConflicts(): readonly VenueConflict[] {
    // Called after every movement: no allocation when there is nothing to take.
    if (this.pendingConflicts.length === 0) return NO_CONFLICTS;
    const out = this.pendingConflicts;
    this.pendingConflicts = [];
    return out;
  }

  /** A canonical text of the state (counters and positions), equal on gateways that converged. */
  digest(): string {
    const counters = [...this.origins.entries()]
      .map(([g, o]) => [g, [...o.counters.entries()].filter(([, c]) => c.in !== 0 || c.out !== 0).sort(([a], [b]) => (a < b ? -1 : 1))] as const)
      .filter(([, c]) => c.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const positions: Array<[string, VenueMovement | undefined]> = [];
    for (const [zoneId, holders] of this.tracks) for (const [holderRef, t] of holders) positions.push([holderRef + SEP + zoneId, t.moves[t.moves.length - 1]]);
    positions.sort(([a], [b]) => (a < b ? -1 : 1));
    return JSON.stringify({ counters, positions });
  }

  private origin(gatewayId: string): Origin {
    let o = this.origins.get(gatewayId);
    if (!o) this.origins.set(gatewayId, (o = { baseSeq: 0, base: new Map(), above: new Map(), counters: new Map() }));
    return o;
  }

  private count(counters: Map<string, ZoneCounter>, zoneId: string, direction: Direction, n: number, total = true): void {
    let c = counters.get(zoneId);
    if (!c) counters.set(zoneId, (c = { in: 0, out: 0 }));
    if (direction === 'in') c.in += n;
    else c.out += n;
    if (total) this.addTotal(zoneId, direction === 'in' ? n : -n);
  }

  private addTotal(zoneId: string, delta: number): void {
    this.zoneTotals.set(zoneId, (this.zoneTotals.get(zoneId) ?? 0) + delta);
  }

  /** Inserts a holder's movement into its (holder, zone) track, in event order, and checks its neighbours. */
  private remember(m: VenueMovement): void {
    // Expired movements are no position any more, wherever they come from.
    if (m.holderRef === undefined || m.at < this.retainFrom) return;
    let holders = this.tracks.get(m.zoneId);
    if (!holders) this.tracks.set(m.zoneId, (holders = new Map()));
    const t = holders.get(m.holderRef);
    if (!t) {
      holders.set(m.holderRef, { moves: [m], position: positionOf([m]) });
      return;
    }
    const h = t.moves;
    let i = h.length;
    while (i > 0 && compareMovements(h[i - 1]!, m) > 0) i--;
    // Older than every movement kept: it can neither be the position nor a neighbour we still know.
    if (i === 0 && h.length >= this.historyPerKey) return;
    const prev = h[i - 1];
    if (prev && prev.gatewayId === m.gatewayId && prev.seq === m.seq) return;
    h.splice(i, 0, m);
    if (prev) this.checkConflict(prev, m);
    const next = h[i + 1];
    if (next) this.checkConflict(m, next);
    if (h.length > this.historyPerKey) h.splice(0, h.length - this.historyPerKey);
    t.position = positionOf(h);
  }

  private checkConflict(first: VenueMovement, second: VenueMovement): void {
    if (first.direction !== 'in' || second.direction !== 'in' || first.gatewayId === second.gatewayId) return;
    // An expired neighbour a sweep has not reached yet is no position any more.
    if (first.at < this.retainFrom) return;
    const window = this.window(first.zoneId);
    if (window === undefined || second.at - first.at >= window) return;
    const key = `${first.holderRef ?? ''}|${first.zoneId}|${first.gatewayId}:${first.seq}|${second.gatewayId}:${second.seq}`;
    if (this.seenConflicts.has(key)) return;
    this.seenConflicts.add(key);
    if (this.seenConflicts.size > this.maxConflicts) {
      const oldest = this.seenConflicts.values().next().value;
      if (oldest !== undefined) this.seenConflicts.delete(oldest);
    }
    this.pendingConflicts.push({ key, holderRef: first.holderRef ?? '', zoneId: first.zoneId, first, second });
  }
}

/** The position a non-empty track gives: its latest movement, and its latest entry among those kept. */
function positionOf(moves: readonly VenueMovement[]): VenuePresence {
  const last = moves[moves.length - 1]!;
  const p: VenuePresence = { dir: last.direction, at: last.at, gatewayId: last.gatewayId };
  for (let i = moves.length - 1; i >= 0; i--) {
    const m = moves[i]!;
    if (m.direction === 'in') {
      p.lastInAt = m.at;
      break;
    }
  }
  return p;
}

/**
 * Conflict windows from the zones' anti-passback config: hard zones have no
 * time limit, timed zones their minutes. Soft zones let a second entry through
 * on purpose (flagged apbViolation where it is known), and zones without
 * anti-passback have nothing to conflict about: none.
 */
export function venueConflictWindows(zones: ReadonlyArray<{ id: string; antiPassback?: { mode: string; minutes?: number | undefined } | undefined }>): (zoneId: string) => number | undefined {
  const windows = new Map<string, number>();
  for (const z of zones) {
    const mode = z.antiPassback?.mode ?? 'none';
    if (mode === 'hard') windows.set(z.id, Number.POSITIVE_INFINITY);
    else if (mode === 'timed') windows.set(z.id, (z.antiPassback?.minutes ?? 0) * 60_000);
  }
  return (zoneId) => windows.get(zoneId);
}

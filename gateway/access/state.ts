import type { Logger } from '../core/log.js';
import type { Direction } from '../core/types.js';
import { openDatabase, type Db, type Migration } from '../store/db.js';
import { FlushTimer } from '../store/flush-timer.js';

/**
 * A holder (or an anonymous fail-open passage) going in or out of a zone. Local
 * grants and, later, other gateways' movements (issue #11) all go through
 * `MovementState.apply`, so shared anti-passback needs no second code path.
 */
export interface Movement {
  /** Absent for passages granted by fail mode, which only move occupancy. */
  holderRef?: string;
  zoneId: string;
  direction: Direction;
  /** Wall-clock ms. */
  at: number;
  /** The gateway that granted it; absent = this one. */
  gatewayId?: string;
  /** Count it against the holder's entry limits (entries only). Defaults to true. */
  countsEntry?: boolean;
}

/** Where a holder was last seen in a zone. */
export interface Presence {
  dir: Direction;
  at: number;
  /** Last entry, for timed anti-passback. */
  lastInAt?: number;
}

export interface EntryCount {
  total: number;
  /** Local date (YYYY-MM-DD) `dayCount` is for. */
  day: string;
  dayCount: number;
}

/** What `undo` needs to take one movement back (a grant with no rotation). */
export interface MovementUndo {
  movement: Movement;
  key?: string;
  before?: Presence;
  after?: Presence;
  entryDay?: string;
  occupancyDelta: number;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE presence (holder TEXT NOT NULL, zone TEXT NOT NULL, dir TEXT NOT NULL, at INTEGER NOT NULL, last_in_at INTEGER,
        PRIMARY KEY (holder, zone)) WITHOUT ROWID;
      CREATE TABLE entries (holder TEXT PRIMARY KEY, total INTEGER NOT NULL, day TEXT NOT NULL, day_count INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE occupancy (zone TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
];

export const STATE_FILE = 'access-state.db';
const SEP = '\u0000';

/**
 * Anti-passback presence, entry counts and zone occupancy. Decisions read and
 * write the in-memory maps only; changed rows are written behind in one
 * transaction every `flushMs` (WAL, synchronous=NORMAL: no fsync on the
 * decision path). A power cut loses at most the last `flushMs` of movements.
 */
export class MovementState {
  private readonly presenceByKey = new Map<string, Presence>();
  private readonly entriesByHolder = new Map<string, EntryCount>();
  private readonly occupancyByZone = new Map<string, number>();
  private readonly dirtyPresence = new Set<string>();
  private readonly dirtyEntries = new Set<string>();
  private readonly dirtyZones = new Set<string>();
  private readonly flushTimer: FlushTimer;
  private readonly db: Db;
  readonly movedAside: string | undefined;

  constructor(
    path: string,
    private readonly localDate: (ms: number) => string,
    private readonly log: Logger,
    flushMs = 250,
  ) {
    const opened = openDatabase(path, { migrations: MIGRATIONS, synchronous: 'NORMAL' });
    this.db = opened.db;
    this.flushTimer = new FlushTimer(flushMs, () => this.flush());
    this.movedAside = opened.movedAside;
    for (const r of this.db.prepare('SELECT holder, zone, dir, at, last_in_at FROM presence').iterate() as IterableIterator<{ holder: string; zone: string; dir: Direction; at: number; last_in_at: number | null }>) {
      const p: Presence = { dir: r.dir, at: r.at };
      if (r.last_in_at !== null) p.lastInAt = r.last_in_at;
      this.presenceByKey.set(r.holder + SEP + r.zone, p);
    }
    for (const r of this.db.prepare('SELECT holder, total, day, day_count FROM entries').iterate() as IterableIterator<{ holder: string; total: number; day: string; day_count: number }>) {
      this.entriesByHolder.set(r.holder, { total: r.total, day: r.day, dayCount: r.day_count });
    }
    for (const r of this.db.prepare('SELECT zone, count FROM occupancy').all() as Array<{ zone: string; count: number }>) this.occupancyByZone.set(r.zone, r.count);
  }

  presence(holderRef: string, zoneId: string): Presence | undefined {
    return this.presenceByKey.get(holderRef + SEP + zoneId);
  }

  entries(holderRef: string): EntryCount | undefined {
    return this.entriesByHolder.get(holderRef);
  }

  occupancy(zoneId: string): number {
    return this.occupancyByZone.get(zoneId) ?? 0;
  }

  zones(): string[] {
    return [...this.occupancyByZone.keys()];
  }

  apply(movement: Movement): MovementUndo {
    const undo: MovementUndo = { movement, occupancyDelta: 0 };
    const { holderRef, zoneId, direction, at } = movement;
    const occupancy = this.occupancy(zoneId);
    undo.occupancyDelta = direction === 'in' ? 1 : occupancy > 0 ? -1 : 0;
    this.setOccupancy(zoneId, occupancy + undo.occupancyDelta);
    if (holderRef === undefined) return undo;

    const key = holderRef + SEP + zoneId;
    const before = this.presenceByKey.get(key);
    const after: Presence = { dir: direction, at };
    const lastInAt = direction === 'in' ? at : before?.lastInAt;
    if (lastInAt !== undefined) after.lastInAt = lastInAt;
    this.presenceByKey.set(key, after);
    this.dirtyPresence.add(key);
    undo.key = key;
    if (before) undo.before = before;
    undo.after = after;

    if (direction === 'in' && movement.countsEntry !== false) {
      const day = this.localDate(at);
      const e = this.entriesByHolder.get(holderRef);
      this.entriesByHolder.set(holderRef, { total: (e?.total ?? 0) + 1, day, dayCount: e && e.day === day ? e.dayCount + 1 : 1 });
      this.dirtyEntries.add(holderRef);
      undo.entryDay = day;
    }
    this.scheduleFlush();
    return undo;
  }

  /** Takes a movement back. Presence is restored only if nothing newer replaced it. */
  undo(u: MovementUndo): void {
    const zoneId = u.movement.zoneId;
    this.setOccupancy(zoneId, Math.max(0, this.occupancy(zoneId) - u.occupancyDelta));
    if (u.key !== undefined && this.presenceByKey.get(u.key) === u.after) {
      if (u.before) this.presenceByKey.set(u.key, u.before);
      else this.presenceByKey.delete(u.key);
      this.dirtyPresence.add(u.key);
    }
    const holderRef = u.movement.holderRef;
    if (u.entryDay !== undefined && holderRef !== undefined) {
      const e = this.entriesByHolder.get(holderRef);
      if (e) {
        this.entriesByHolder.set(holderRef, { total: Math.max(0, e.total - 1), day: e.day, dayCount: e.day === u.entryDay ? Math.max(0, e.dayCount - 1) : e.dayCount });
        this.dirtyEntries.add(holderRef);
      }
    }
    this.scheduleFlush();
  }

  private setOccupancy(zoneId: string, count: number): void {
    this.occupancyByZone.set(zoneId, count);
    this.dirtyZones.add(zoneId);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.db.open) this.flushTimer.schedule();
  }

  /** Writes every changed row in one transaction. */
  flush(): void {
    this.flushTimer.cancel();
    if (!this.db.open || (this.dirtyPresence.size === 0 && this.dirtyEntries.size === 0 && this.dirtyZones.size === 0)) return;
    const upsertPresence = this.db.prepare('INSERT OR REPLACE INTO presence (holder, zone, dir, at, last_in_at) VALUES (?, ?, ?, ?, ?)');
    const deletePresence = this.db.prepare('DELETE FROM presence WHERE holder = ? AND zone = ?');
    const upsertEntries = this.db.prepare('INSERT OR REPLACE INTO entries (holder, total, day, day_count) VALUES (?, ?, ?, ?)');
    const upsertZone = this.db.prepare('INSERT OR REPLACE INTO occupancy (zone, count) VALUES (?, ?)');
    try {
      this.db.transaction(() => {
        for (const key of this.dirtyPresence) {
          const [holder = '', zone = ''] = key.split(SEP);
          const p = this.presenceByKey.get(key);
          if (p) upsertPresence.run(holder, zone, p.dir, p.at, p.lastInAt ?? null);
          else deletePresence.run(holder, zone);
        }
        for (const holder of this.dirtyEntries) {
          const e = this.entriesByHolder.get(holder);
          if (e) upsertEntries.run(holder, e.total, e.day, e.dayCount);
        }
        for (const zone of this.dirtyZones) upsertZone.run(zone, this.occupancyByZone.get(zone) ?? 0);
      })();
      this.dirtyPresence.clear();
      this.dirtyEntries.clear();
      this.dirtyZones.clear();
    } catch (err) {
      // Kept dirty: the next flush retries. Decisions never depend on this write.
      this.log.error({ code: 'GH_ACCESS_STATE_WRITE', err }, 'access state could not be written; retrying');
      this.scheduleFlush();
    }
  }

  close(): void {
    this.flush();
    if (this.db.open) this.db.close();
  }
}

import type { Logger } from '../../gateway/core/log.js';
import { openDatabase, type Db, type Migration } from '../../gateway/store/db.js';
import type { VenueMovement, ZoneCounter } from './protocol.js';
import { FlushTimer } from '../../gateway/store/flush-timer.js';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE own_moves (seq INTEGER PRIMARY KEY, holder TEXT, zone TEXT NOT NULL, dir TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE own_counters (zone TEXT PRIMARY KEY, ins INTEGER NOT NULL, outs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE own_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE reported_conflicts (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
];

export const VENUE_STATE_FILE = 'venue-state.db';

export interface OwnState {
  /** Last seq this gateway gave a movement. */
  seq: number;
  counters: Record<string, ZoneCounter>;
  /** Latest movements, oldest first. */
  recent: VenueMovement[];
}

/**
 * This gateway's own movements, written behind in one transaction every
 * `flushMs` (like the access state): after a restart it goes on numbering
 * where it stopped, so peers never take new movements for replays. Peers'
 * state is not stored: it comes back from their retained snapshots.
 */
export class OwnMovementStore {
  private readonly db: Db;
  private readonly pending: VenueMovement[] = [];
  private readonly flushTimer: FlushTimer;
  readonly movedAside: string | undefined;

  constructor(
    path: string,
    private readonly gatewayId: string,
    private readonly keep: number,
    private readonly log: Logger,
    flushMs = 250,
  ) {
    const opened = openDatabase(path, { migrations: MIGRATIONS, synchronous: 'NORMAL' });
    this.db = opened.db;
    this.flushTimer = new FlushTimer(flushMs, () => this.flush());
    this.movedAside = opened.movedAside;
  }

  load(): OwnState {
    const counters: Record<string, ZoneCounter> = {};
    for (const r of this.db.prepare('SELECT zone, ins, outs FROM own_counters').all() as Array<{ zone: string; ins: number; outs: number }>) counters[r.zone] = { in: r.ins, out: r.outs };
    const rows = this.db.prepare('SELECT seq, holder, zone, dir, at FROM own_moves ORDER BY seq DESC LIMIT ?').all(this.keep) as Array<{ seq: number; holder: string | null; zone: string; dir: 'in' | 'out'; at: number }>;
    const recent = rows.reverse().map((r) => {
      const m: VenueMovement = { gatewayId: this.gatewayId, seq: r.seq, zoneId: r.zone, direction: r.dir, at: r.at };
      if (r.holder !== null) m.holderRef = r.holder;
      return m;
    });
    const seq = (this.db.prepare("SELECT v FROM own_meta WHERE k = 'seq'").get() as { v: number } | undefined)?.v ?? 0;
    return { seq, counters, recent };
  }

  /** Replaces everything with a state learnt back from the broker (the local file was lost). */
  adopt(state: OwnState): void {
    this.pending.length = 0;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM own_moves').run();
      this.db.prepare('DELETE FROM own_counters').run();
      const insert = this.db.prepare('INSERT INTO own_moves (seq, holder, zone, dir, at) VALUES (?, ?, ?, ?, ?)');
      for (const m of state.recent) insert.run(m.seq, m.holderRef ?? null, m.zoneId, m.direction, m.at);
      this.db.prepare("INSERT OR REPLACE INTO own_meta (k, v) VALUES ('seq', ?)").run(state.seq);
      const upsert = this.db.prepare('INSERT INTO own_counters (zone, ins, outs) VALUES (?, ?, ?)');
      for (const [zone, c] of Object.entries(state.counters)) upsert.run(zone, c.in, c.out);
    })();
  }

  append(m: VenueMovement): void {
    this.pending.push(m);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.db.open) this.flushTimer.schedule();
  }

  flush(): void {
    this.flushTimer.cancel();
    if (!this.db.open || this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    try {
      this.db.transaction(() => {
        const insert = this.db.prepare('INSERT OR IGNORE INTO own_moves (seq, holder, zone, dir, at) VALUES (?, ?, ?, ?, ?)');
        const bump = this.db.prepare('INSERT INTO own_counters (zone, ins, outs) VALUES (?, ?, ?) ON CONFLICT(zone) DO UPDATE SET ins = ins + excluded.ins, outs = outs + excluded.outs');
        for (const m of batch) {
          insert.run(m.seq, m.holderRef ?? null, m.zoneId, m.direction, m.at);
          bump.run(m.zoneId, m.direction === 'in' ? 1 : 0, m.direction === 'out' ? 1 : 0);
        }
        const last = batch[batch.length - 1]!;
        this.db.prepare("INSERT OR REPLACE INTO own_meta (k, v) VALUES ('seq', ?)").run(last.seq);
        this.db.prepare('DELETE FROM own_moves WHERE seq <= ?').run(last.seq - this.keep);
      })();
    } catch (err) {
      // Kept for the next flush; decisions never wait on this write.
      this.pending.unshift(...batch);
      this.log.error({ code: 'GH_ACCESS_STATE_WRITE', err }, 'venue movements could not be written; retrying');
      this.scheduleFlush();
    }
  }

  /** True when this conflict was already reported (before a restart, too). */
  wasReported(key: string): boolean {
    return this.db.open && this.db.prepare('SELECT 1 FROM reported_conflicts WHERE key = ?').get(key) !== undefined;
  }

  /** Conflicts are rare: written at once, and only the latest 10,000 kept. */
  markReported(key: string, at: number): void {
    if (!this.db.open) return;
    try {
      this.db.prepare('INSERT OR IGNORE INTO reported_conflicts (key, at) VALUES (?, ?)').run(key, at);
      this.db.prepare('DELETE FROM reported_conflicts WHERE key NOT IN (SELECT key FROM reported_conflicts ORDER BY at DESC LIMIT 10000)').run();
    } catch (err) {
      this.log.error({ code: 'GH_ACCESS_STATE_WRITE', err }, 'reported venue conflict could not be written');
    }
  }

  close(): void {
    this.flush();
    if (this.db.open) this.db.close();
  }
}

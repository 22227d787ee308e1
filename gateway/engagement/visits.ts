import { join } from 'node:path';
import { openDatabase, type Db, type Migration } from '../store/db.js';

/** What one new visit means for the holder's history. */
export interface VisitFacts {
  /** Visits including this one. */
  visitCount: number;
  firstEver: boolean;
  firstOfSeason: boolean;
  season: string;
  /** Consecutive local days / ISO weeks with a visit, this one included. */
  streakDays: number;
  streakWeeks: number;
  /** True when this visit extended the streak (first visit on the next day / in the next week). */
  streakDayGrew: boolean;
  streakWeekGrew: boolean;
}

interface HolderRow {
  holder: string;
  visits: number;
  first_at: number;
  last_at: number;
  last_day: number;
  last_week: number;
  season: string;
  streak_days: number;
  streak_weeks: number;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE holder_visits (
        holder TEXT PRIMARY KEY,
        visits INTEGER NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        last_day INTEGER NOT NULL,
        last_week INTEGER NOT NULL,
        season TEXT NOT NULL,
        streak_days INTEGER NOT NULL,
        streak_weeks INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE engagement_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `,
  },
];

export const VISITS_DB_FILE = 'engagement.db';
/**
 * Rows kept in memory once written. A holder's row is read at entry and maybe
 * at exit hours later, so a large cache mostly holds rows that will not be read
 * again, and each full GC has to mark them all.
 */
const CLEAN_CACHE_LIMIT = 5_000;

/**
 * Calendar facts in the gateway's time zone. The answer for the last second
 * asked is kept: Intl's formatToParts costs tens of microseconds, and in a
 * surge a thousand visits a second share the same second. A second is a safe
 * unit, since no time zone's offset has a fraction of a second, so a day
 * cannot begin inside one.
 */
export function calendar(timeZone: string, seasonStart: string): (atMs: number) => Readonly<{ day: number; week: number; season: string }> {
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const startLabel = seasonStart;
  let lastSecond = NaN;
  let last: Readonly<{ day: number; week: number; season: string }> = { day: 0, week: 0, season: '' };
  return (atMs) => {
    const second = Math.floor(atMs / 1000);
    if (second !== lastSecond) {
      last = Object.freeze(compute(second * 1000));
      lastSecond = second;
    }
    return last;
  };
  function compute(atMs: number): { day: number; week: number; season: string } {
    let y = 1970;
    let m = 1;
    let d = 1;
    for (const p of fmt.formatToParts(new Date(atMs))) {
      if (p.type === 'year') y = Number(p.value);
      else if (p.type === 'month') m = Number(p.value);
      else if (p.type === 'day') d = Number(p.value);
    }
    const day = Date.UTC(y, m - 1, d) / 86_400_000;
    // Day 0 (1970-01-01) was a Thursday: shifting by 3 makes weeks start on Monday (ISO 8601).
    const week = Math.floor((day + 3) / 7);
    const md = `${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
    const seasonYear = md >= startLabel ? y : y - 1;
    const season = startLabel === '01-01' ? String(seasonYear) : `${seasonYear}/${String(seasonYear + 1).slice(2)}`;
    return { day, week, season };
  }
}

/**
 * Per-holder visit history (first visit ever / of season, streaks) in its own
 * small SQLite file under the data directory. Reads go through an in-memory
 * cache; changes are written by `flush()` in one transaction (the caller runs
 * it on a timer and at stop) so an SD card sees a handful of writes, not one per entry.
 */
export class VisitHistory {
  private readonly cache = new Map<string, HolderRow | null>();
  private readonly dirty = new Set<string>();
  private readonly select;
  private readonly upsert;
  private readonly getMeta;
  private readonly putMeta;
  private readonly pendingMeta = new Map<string, string>();
  private cal: ReturnType<typeof calendar>;

  private constructor(private readonly db: Db, timeZone: string, seasonStart: string) {
    this.cal = calendar(timeZone, seasonStart);
    this.select = db.prepare<[string], HolderRow>('SELECT * FROM holder_visits WHERE holder = ?');
    this.upsert = db.prepare<HolderRow>(
      `INSERT INTO holder_visits (holder, visits, first_at, last_at, last_day, last_week, season, streak_days, streak_weeks)
       VALUES (@holder, @visits, @first_at, @last_at, @last_day, @last_week, @season, @streak_days, @streak_weeks)
       ON CONFLICT(holder) DO UPDATE SET visits = excluded.visits, last_at = excluded.last_at, last_day = excluded.last_day,
         last_week = excluded.last_week, season = excluded.season, streak_days = excluded.streak_days, streak_weeks = excluded.streak_weeks`,
    );
    this.getMeta = db.prepare<[string], { value: string }>('SELECT value FROM engagement_meta WHERE key = ?');
    this.putMeta = db.prepare<[string, string]>('INSERT INTO engagement_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  }

  /** Opens (creating, migrating, integrity-checking) `<dataDir>/engagement.db`; `:memory:` for tests. */
  static open(dataDir: string | ':memory:', options: { timeZone: string; seasonStart: string }): { history: VisitHistory; movedAside?: string } {
    const path = dataDir === ':memory:' ? ':memory:' : join(dataDir, VISITS_DB_FILE);
    // NORMAL: losing the last flush on a power cut costs a streak day at worst; FULL would fsync every batch.
    const { db, movedAside } = openDatabase(path, { migrations: MIGRATIONS, synchronous: 'NORMAL' });
    const history = new VisitHistory(db, options.timeZone, options.seasonStart);
    return movedAside ? { history, movedAside } : { history };
  }

  reconfigure(options: { timeZone: string; seasonStart: string }): void {
    this.cal = calendar(options.timeZone, options.seasonStart);
  }

  /**
   * Records a new visit at `atMs`. With an unsynchronised wall clock the
   * calendar facts are not trusted: the count grows but days, weeks and
   * seasons are left as they were (a Pi booting in 1970 must not reset streaks).
   */
  recordVisit(holder: string, atMs: number, clockSynced = true): VisitFacts {
    const row = this.row(holder);
    if (!clockSynced) {
      if (row) {
        row.visits++;
        this.dirty.add(holder);
      }
      return {
        visitCount: row ? row.visits : 1,
        firstEver: !row,
        firstOfSeason: false,
        season: row?.season ?? '',
        streakDays: row?.streak_days ?? 1,
        streakWeeks: row?.streak_weeks ?? 1,
        streakDayGrew: false,
        streakWeekGrew: false,
      };
    }
    const { day, week, season } = this.cal(atMs);
    if (!row) {
      const fresh: HolderRow = { holder, visits: 1, first_at: atMs, last_at: atMs, last_day: day, last_week: week, season, streak_days: 1, streak_weeks: 1 };
      this.cache.set(holder, fresh);
      this.dirty.add(holder);
      return { visitCount: 1, firstEver: true, firstOfSeason: true, season, streakDays: 1, streakWeeks: 1, streakDayGrew: false, streakWeekGrew: false };
    }
    const streakDayGrew = day === row.last_day + 1;
    const streakWeekGrew = week === row.last_week + 1;
    const firstOfSeason = row.season !== season;
    row.streak_days = day === row.last_day ? row.streak_days : streakDayGrew ? row.streak_days + 1 : 1;
    row.streak_weeks = week === row.last_week ? row.streak_weeks : streakWeekGrew ? row.streak_weeks + 1 : 1;
    row.visits++;
    row.last_at = atMs;
    if (day > row.last_day) row.last_day = day;
    if (week > row.last_week) row.last_week = week;
    row.season = season;
    this.dirty.add(holder);
    return { visitCount: row.visits, firstEver: false, firstOfSeason, season, streakDays: row.streak_days, streakWeeks: row.streak_weeks, streakDayGrew, streakWeekGrew };
  }

  /** Wall-clock ms of the holder's latest visit, if any. */
  lastVisitAt(holder: string): number | undefined {
    return this.row(holder)?.last_at;
  }

  visitCount(holder: string): number {
    return this.row(holder)?.visits ?? 0;
  }

  meta(key: string): string | undefined {
    return this.pendingMeta.get(key) ?? this.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.pendingMeta.set(key, value);
  }

  get pendingWrites(): number {
    return this.dirty.size + this.pendingMeta.size;
  }

  /**
   * Writes changes since the last flush, at most `maxRows` holder rows in one
   * transaction; meta goes with the first slice, so a no-show cursor is stored
   * at once. Returns the rows written. A busy gate dirties about 1,000 holders
   * a second: writing ten seconds of them at once held the event loop 17-40 ms
   * in the stadium surge (--cpu-prof), so the engagement tick writes slices of
   * FLUSH_SLICE_ROWS.
   */
  flush(maxRows = Number.POSITIVE_INFINITY): number {
    if (this.pendingWrites === 0) return 0;
    const holders: string[] = [];
    for (const holder of this.dirty) {
      if (holders.length >= maxRows) break;
      holders.push(holder);
    }
    this.db.transaction(() => {
      for (const [k, v] of this.pendingMeta) this.putMeta.run(k, v);
      for (const holder of holders) {
        const row = this.cache.get(holder);
        if (row) this.upsert.run(row);
      }
    })();
    // Only after the commit: a failed transaction leaves everything dirty for the next try.
    const written = holders.length + this.pendingMeta.size;
    for (const holder of holders) this.dirty.delete(holder);
    this.pendingMeta.clear();
    // Clean rows can be re-read: keep at most CLEAN_CACHE_LIMIT of them. Dirty rows exist only
    // here until written, so they stay (a busy gate always has some).
    if (this.cache.size - this.dirty.size > CLEAN_CACHE_LIMIT) {
      for (const holder of this.cache.keys()) if (!this.dirty.has(holder)) this.cache.delete(holder);
    }
    return written;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      this.db.close();
    }
  }

  private row(holder: string): HolderRow | undefined {
    let row = this.cache.get(holder);
    if (row === undefined) {
      row = this.select.get(holder) ?? null;
      this.cache.set(holder, row);
    }
    return row ?? undefined;
  }
}

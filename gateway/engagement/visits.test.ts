import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { VisitHistory, calendar, VISITS_DB_FILE } from './visits.js';

const day = (iso: string) => Date.parse(iso);

describe('calendar', () => {
  it('counts days and Monday-based weeks in the gateway time zone, and labels seasons', () => {
    const utc = calendar('UTC', '01-01');
    const sun = utc(day('2026-11-22T12:00:00Z'));
    const mon = utc(day('2026-11-23T00:30:00Z'));
    expect(mon.day - sun.day).toBe(1);
    expect(mon.week - sun.week).toBe(1);
    expect(utc(day('2026-11-29T23:59:00Z')).week).toBe(mon.week);
    expect(sun.season).toBe('2026');
    // 23:30 UTC on Sunday is already Monday in Berlin.
    expect(calendar('Europe/Berlin', '01-01')(day('2026-11-22T23:30:00Z')).day).toBe(mon.day);
    const football = calendar('UTC', '08-01');
    expect(football(day('2026-07-31T12:00:00Z')).season).toBe('2025/26');
    expect(football(day('2026-08-01T12:00:00Z')).season).toBe('2026/27');
  });

  it('answers from its last second exactly as a fresh calendar would, across midnights and DST changes', () => {
    // Times near Berlin's midnights and its 2026 DST changes (29 Mar, 25 Oct), in any order and repeated.
    const anchors = ['2026-03-28T23:00:00Z', '2026-03-29T00:59:59Z', '2026-10-24T22:00:00Z', '2026-10-25T01:00:00Z', '2026-07-31T22:00:00Z'].map(day);
    const instant = fc.tuple(fc.constantFrom(...anchors), fc.integer({ min: -3_600_000, max: 3_600_000 })).map(([a, d]) => a + d);
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 40 }), (times) => {
        const kept = calendar('Europe/Berlin', '08-01');
        for (const t of times) {
          // Each call also exercises a second already answered (t, then t + 999 ms at most).
          for (const at of [t, Math.floor(t / 1000) * 1000 + 999]) expect(kept(at)).toEqual(calendar('Europe/Berlin', '08-01')(at));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('asks Intl once per second, not once per visit', () => {
    const spy = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      const cal = calendar('Europe/Berlin', '01-01');
      const t0 = day('2026-11-22T12:00:00Z');
      for (let i = 0; i < 2_000; i++) cal(t0 + i); // 1,000 visits in each of two seconds
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('VisitHistory', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const openInTempDir = () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-visits-'));
    return VisitHistory.open(dir, { timeZone: 'UTC', seasonStart: '01-01' }).history;
  };
  /** A second, read-only connection: what is on disk, not in the history's memory. */
  const peekFile = () => new Database(join(dir!, VISITS_DB_FILE), { readonly: true });

  it('reports the first visit ever, then counts visits and builds day and week streaks', () => {
    const { history } = VisitHistory.open(':memory:', { timeZone: 'UTC', seasonStart: '01-01' });
    expect(history.recordVisit('h1', day('2026-11-20T10:00:00Z'))).toEqual({ visitCount: 1, firstEver: true, firstOfSeason: true, season: '2026', streakDays: 1, streakWeeks: 1, streakDayGrew: false, streakWeekGrew: false });
    expect(history.recordVisit('h1', day('2026-11-20T18:00:00Z'))).toMatchObject({ visitCount: 2, firstEver: false, streakDays: 1, streakDayGrew: false });
    expect(history.recordVisit('h1', day('2026-11-21T10:00:00Z'))).toMatchObject({ visitCount: 3, streakDays: 2, streakDayGrew: true, streakWeeks: 1 });
    expect(history.recordVisit('h1', day('2026-11-22T10:00:00Z'))).toMatchObject({ streakDays: 3, streakWeekGrew: false });
    expect(history.recordVisit('h1', day('2026-11-23T10:00:00Z'))).toMatchObject({ streakDays: 4, streakWeeks: 2, streakWeekGrew: true });
    expect(history.recordVisit('h1', day('2026-11-25T10:00:00Z'))).toMatchObject({ streakDays: 1, streakWeeks: 2, streakDayGrew: false });
    expect(history.recordVisit('h1', day('2026-12-09T10:00:00Z'))).toMatchObject({ streakDays: 1, streakWeeks: 1 });
    expect(history.recordVisit('h1', day('2027-01-02T10:00:00Z'))).toMatchObject({ firstOfSeason: true, firstEver: false, season: '2027' });
    expect(history.visitCount('h1')).toBe(8);
    expect(history.lastVisitAt('h1')).toBe(day('2027-01-02T10:00:00Z'));
    history.close();
  });

  it('leaves calendar facts alone while the wall clock is unsynchronised', () => {
    const { history } = VisitHistory.open(':memory:', { timeZone: 'UTC', seasonStart: '01-01' });
    expect(history.recordVisit('h1', 0, false)).toMatchObject({ visitCount: 1, firstEver: true, firstOfSeason: false, season: '' });
    history.recordVisit('h1', day('2026-11-20T10:00:00Z'));
    expect(history.recordVisit('h1', 0, false)).toMatchObject({ visitCount: 2, streakDays: 1, season: '2026' });
    history.close();
  });

  it('writes nothing until flushed, then everything in one batch that survives a reopen', () => {
    const history = openInTempDir();
    for (let i = 0; i < 50; i++) history.recordVisit(`h${i}`, day('2026-11-20T10:00:00Z'));
    history.setMeta('cursor', '42');
    const peek = peekFile();
    expect(peek.prepare('SELECT count(*) AS n FROM holder_visits').get()).toEqual({ n: 0 });
    expect(history.pendingWrites).toBe(51);
    expect(history.flush()).toBe(51);
    expect(history.flush()).toBe(0);
    expect(peek.prepare('SELECT count(*) AS n FROM holder_visits').get()).toEqual({ n: 50 });
    peek.close();
    history.recordVisit('h0', day('2026-11-21T10:00:00Z'));
    history.close();

    const again = VisitHistory.open(dir!, { timeZone: 'UTC', seasonStart: '01-01' }).history;
    expect(again.meta('cursor')).toBe('42');
    expect(again.recordVisit('h0', day('2026-11-22T10:00:00Z'))).toMatchObject({ visitCount: 3, streakDays: 3, firstEver: false });
    again.reconfigure({ timeZone: 'UTC', seasonStart: '08-01' });
    expect(again.recordVisit('h1', day('2026-11-22T10:00:00Z'))).toMatchObject({ firstOfSeason: true, season: '2026/27' });
    again.close();
  });

  it('flushes in slices of at most maxRows, meta with the first, and keeps rows changed between slices dirty', () => {
    const history = openInTempDir();
    for (let i = 0; i < 25; i++) history.recordVisit(`h${i}`, day('2026-11-20T10:00:00Z'));
    history.setMeta('cursor', '7');
    const peek = peekFile();
    const stored = () => (peek.prepare('SELECT count(*) AS n FROM holder_visits').get() as { n: number }).n;
    const storedVisits = (h: string) => (peek.prepare('SELECT visits FROM holder_visits WHERE holder = ?').get(h) as { visits: number } | undefined)?.visits;
    expect(history.flush(10)).toBe(11);
    expect(stored()).toBe(10);
    expect(peek.prepare("SELECT value FROM engagement_meta WHERE key = 'cursor'").get()).toEqual({ value: '7' });
    expect(history.pendingWrites).toBe(15);
    // h0 was written in the first slice; a new visit makes it dirty again.
    history.recordVisit('h0', day('2026-11-21T10:00:00Z'));
    expect(history.flush(10)).toBe(10);
    expect(history.flush(10)).toBe(6);
    expect(history.flush(10)).toBe(0);
    expect(stored()).toBe(25);
    expect(storedVisits('h0')).toBe(2);
    peek.close();
    history.close();
  });

  it('drops clean rows from memory past 5,000 but never a row not yet written', () => {
    const history = openInTempDir();
    for (let i = 0; i < 6000; i++) history.recordVisit(`h${i}`, day('2026-11-20T10:00:00Z'));
    // 5,500 written and clean (over the limit: dropped from memory), 500 still dirty.
    expect(history.flush(5500)).toBe(5500);
    expect(history.pendingWrites).toBe(500);
    expect(history.flush()).toBe(500);
    const peek = peekFile();
    expect(peek.prepare('SELECT count(*) AS n, min(visits) AS lo, max(visits) AS hi FROM holder_visits').get()).toEqual({ n: 6000, lo: 1, hi: 1 });
    peek.close();
    // A dropped row is read back from the file.
    expect(history.recordVisit('h0', day('2026-11-21T10:00:00Z'))).toMatchObject({ visitCount: 2, streakDays: 2 });
    history.close();
  });
});

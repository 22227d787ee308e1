import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Alarm } from '../../gateway/core/types.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { CloudEvent, EventPriority } from '../../gateway/events/cloudevent.js';
import { isGatehouseError } from '../../gateway/errors.js';
import { ROW_OVERHEAD_BYTES, openOutbox, type OutboxOptions } from './outbox.js';

function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, monotonic: () => t, isSynced: () => true, advance: (ms: number) => (t += ms) };
}

let n = 0;
function ev(extra: Partial<CloudEvent> = {}): CloudEvent {
  n += 1;
  return {
    specversion: '1.0',
    id: `01TEST${String(n).padStart(20, '0')}`,
    source: 'gatehouse://gw1/test',
    type: 'io.gatehouse.test',
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { n },
    ...extra,
  };
}
const costOf = (e: CloudEvent) => Buffer.byteLength(JSON.stringify(e)) + ROW_OVERHEAD_BYTES;

describe('outbox', () => {
  let dir: string;
  let alarms: Alarm[];
  let clock: ReturnType<typeof fakeClock>;
  const options = (over: Partial<OutboxOptions> = {}): OutboxOptions => ({
    path: join(dir, 'outbox.db'),
    maxBytes: 10_000_000,
    maxRows: 100_000,
    retentionHours: 1,
    groupCommitMs: 0,
    clock,
    log: silentLogger(),
    metrics: new Registry(),
    raiseAlarm: (a) => alarms.push(a),
    ...over,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-outbox-'));
    alarms = [];
    clock = fakeClock();
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps appended events across a reopen, in append order, with their CloudEvent ids', async () => {
    const box = openOutbox(options());
    const events = [ev(), ev(), ev()];
    await Promise.all(events.map((e) => box.append(e, 'access')));
    await box.close();
    const again = openOutbox(options());
    const rows = again.peek(10);
    expect(rows.map((r) => r.id)).toEqual(events.map((e) => e.id));
    expect(JSON.parse(rows[0]!.body)).toEqual(events[0]);
    expect(again.depth()).toBe(3);
    await again.close();
  });

  it.runIf(process.platform === 'linux')('syncs every commit through one descriptor on its WAL, the same file after a truncating checkpoint, closed with the outbox', async () => {
    const walFds = () =>
      readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return ''; // closed between the listing and the read
          }
        })
        .filter((target) => target.startsWith(join(dir, 'outbox.db-wal')));
    const box = openOutbox(options());
    const sqliteOwn = walFds().length; // SQLite's own descriptor, opened with the connection
    for (let i = 0; i < 5; i++) await box.append(ev(), 'access');
    expect(walFds()).toHaveLength(sqliteOwn + 1);
    const other = new Database(join(dir, 'outbox.db'));
    other.pragma('wal_checkpoint(TRUNCATE)');
    other.close();
    for (let i = 0; i < 5; i++) await box.append(ev(), 'access');
    expect(walFds()).toHaveLength(sqliteOwn + 1);
    expect(walFds().some((t) => t.endsWith('(deleted)'))).toBe(false);
    await box.close();
    expect(walFds()).toHaveLength(0);
    const again = openOutbox(options());
    expect(again.depth()).toBe(10);
    await again.close();
  });

  it('writes nothing before the group-commit window ends, then commits the whole group at once', async () => {
    vi.useFakeTimers();
    const box = openOutbox(options({ groupCommitMs: 50 }));
    const done = [box.append(ev(), 'access'), box.append(ev(), 'telemetry'), box.append(ev(), 'alarm')];
    const reader = new Database(join(dir, 'outbox.db'), { readonly: true });
    const count = () => (reader.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    expect(count()).toBe(0);
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(done);
    expect(count()).toBe(3);
    reader.close();
    await box.close();
  });

  it('flushes appends still waiting for their group commit when closed', async () => {
    const box = openOutbox(options({ groupCommitMs: 1000 }));
    const p = box.append(ev(), 'access');
    await box.close();
    await expect(p).resolves.toBeUndefined();
    const again = openOutbox(options());
    expect(again.depth()).toBe(1);
    await again.close();
    await expect(box.append(ev(), 'access')).rejects.toMatchObject({ code: 'GH_OUTBOX_APPEND' });
  });

  it('rejects an unknown priority with GH_OUTBOX_APPEND instead of storing it', async () => {
    const box = openOutbox(options());
    await expect(box.append(ev(), 'bogus' as EventPriority)).rejects.toMatchObject({ code: 'GH_OUTBOX_APPEND' });
    expect(box.depth()).toBe(0);
    await box.close();
  });

  it('sheds telemetry before presence before access when the row budget is reached, and raises one alarm', async () => {
    const box = openOutbox(options({ maxRows: 4 }));
    const t1 = ev(), p1 = ev(), t2 = ev(), a1 = ev();
    await box.append(t1, 'telemetry');
    await box.append(p1, 'presence');
    await box.append(t2, 'telemetry');
    await box.append(a1, 'access');
    const a2 = ev(), a3 = ev(), a4 = ev();
    await box.append(a2, 'access');
    await box.append(a3, 'access');
    await box.append(a4, 'access');
    expect(box.peek(10).map((r) => r.id)).toEqual([a1.id, a2.id, a3.id, a4.id]);
    const s = box.stats();
    expect(s.rows).toBe(4);
    expect(s.shed).toBe(3);
    expect(s.shedByPriority).toMatchObject({ telemetry: 2, presence: 1, access: 0 });
    expect(alarms.filter((a) => a.kind === 'outbox_full' && a.active)).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ code: 'GH_OUTBOX_FULL', source: 'outbox' });
    await box.close();
  });

  it('refuses a low-priority append when only higher-priority events fill the budget', async () => {
    const box = openOutbox(options({ maxRows: 2 }));
    await box.append(ev(), 'alarm');
    await box.append(ev(), 'access');
    const err = await box.append(ev(), 'telemetry').catch((e: unknown) => e);
    expect(isGatehouseError(err, 'GH_OUTBOX_FULL')).toBe(true);
    expect(box.stats()).toMatchObject({ rows: 2, shed: 1, shedByPriority: { telemetry: 1 } });
    await box.close();
  });

  it('drops delivered rows before any pending row when the byte budget needs room', async () => {
    const e = ev();
    const box = openOutbox(options({ maxBytes: costOf(e) * 3 + 10 }));
    await box.append(e, 'telemetry');
    box.markDelivered(box.peek(10));
    const rest = [ev(), ev(), ev()];
    for (const r of rest) await box.append(r, 'telemetry');
    expect(box.stats()).toMatchObject({ shed: 0, rows: 3, depth: 3 });
    expect(box.stats().bytes).toBeLessThanOrEqual(box.stats().maxBytes);
    await box.close();
  });

  it('refuses an event bigger than the whole budget', async () => {
    const box = openOutbox(options({ maxBytes: 200 }));
    await expect(box.append(ev({ data: { pad: 'x'.repeat(500) } }), 'alarm')).rejects.toMatchObject({ code: 'GH_OUTBOX_FULL' });
    expect(box.depth()).toBe(0);
    await box.close();
  });

  it('clears the outbox_full alarm once delivery brings usage under 80 % of the budget', async () => {
    const box = openOutbox(options({ maxRows: 5 }));
    for (let i = 0; i < 7; i++) await box.append(ev(), 'telemetry');
    box.markDelivered(box.peek(10));
    clock.advance(2 * 3_600_000);
    expect(box.purge()).toBe(5);
    expect(alarms.map((a) => [a.kind, a.active])).toEqual([
      ['outbox_full', true],
      ['outbox_full', false],
    ]);
    await box.close();
  });

  it('purges delivered rows only after the retention period', async () => {
    const box = openOutbox(options({ retentionHours: 1 }));
    await box.append(ev(), 'access');
    await box.append(ev(), 'access');
    box.markDelivered(box.peek(1));
    expect(box.depth()).toBe(1);
    expect(box.purge()).toBe(0);
    clock.advance(3_600_001);
    expect(box.purge()).toBe(1);
    expect(box.stats()).toMatchObject({ rows: 1, depth: 1, delivered: 1 });
    await box.close();
  });

  it('peeks pending rows after a cursor and skips delivered ones', async () => {
    const box = openOutbox(options());
    for (let i = 0; i < 5; i++) await box.append(ev(), 'access');
    const all = box.peek(10);
    box.markDelivered(all.slice(0, 2));
    expect(box.peek(10).map((r) => r.seq)).toEqual(all.slice(2).map((r) => r.seq));
    expect(box.peek(2, all[2]!.seq).map((r) => r.seq)).toEqual([all[3]!.seq, all[4]!.seq]);
    await box.close();
  });

  it('moves dead letters out of the pending queue with their reason, and remembers them across a reopen', async () => {
    const box = openOutbox(options());
    await box.append(ev(), 'access');
    await box.append(ev(), 'access');
    const [first] = box.peek(1);
    box.deadLetter([first!], 'GH_UPLINK_DEAD_LETTER', 'HTTP 400: bad event');
    expect(box.depth()).toBe(1);
    await box.close();
    const again = openOutbox(options());
    expect(again.stats().deadLetters).toBe(1);
    expect(again.deadLetters()).toEqual([expect.objectContaining({ id: first!.id, code: 'GH_UPLINK_DEAD_LETTER', reason: 'HTTP 400: bad event' })]);
    await again.close();
  });

  it('requeues dead letters by code under their original seq, id, priority and birth time', async () => {
    const box = openOutbox(options());
    await box.append(ev(), 'alarm');
    clock.advance(1000);
    await box.append(ev(), 'telemetry');
    await box.append(ev(), 'access');
    const rows = box.peek(3);
    clock.advance(60_000);
    box.deadLetter(rows.slice(0, 2), 'GH_UPLINK_AUTH', 'HTTP 401: unauthorized');
    box.deadLetter(rows.slice(2), 'GH_UPLINK_DEAD_LETTER', 'HTTP 422: bad event');
    await box.append(ev(), 'access');
    expect(box.deadLetterCodes()).toEqual({ GH_UPLINK_AUTH: 2, GH_UPLINK_DEAD_LETTER: 1 });
    const woken: number[] = [];
    box.onAppend(() => woken.push(box.depth()));

    expect(box.requeue({ code: 'GH_UPLINK_AUTH' })).toEqual({ requeued: 2, left: 0 });
    // Back before the newer event, as they were, so they go out first.
    const pending = box.peek(10);
    expect(pending.slice(0, 2)).toEqual(rows.slice(0, 2));
    expect(pending).toHaveLength(3);
    expect(box.stats()).toMatchObject({ depth: 3, deadLetters: 1 });
    expect(box.deadLetterCodes()).toEqual({ GH_UPLINK_DEAD_LETTER: 1 });
    expect(woken).toEqual([3]);
    await box.close();
    const db = new Database(join(dir, 'outbox.db'), { readonly: true });
    expect(db.prepare('SELECT priority FROM outbox WHERE seq IN (?, ?) ORDER BY seq').all(rows[0]!.seq, rows[1]!.seq)).toEqual([{ priority: 4 }, { priority: 0 }]);
    db.close();

    const again = openOutbox(options());
    expect(again.requeue()).toEqual({ requeued: 1, left: 0 });
    expect(again.stats()).toMatchObject({ depth: 4, deadLetters: 0 });
    expect(again.requeue()).toEqual({ requeued: 0, left: 0 });
    await again.close();
  });

  it('requeues only what fits the budget, making room from delivered rows but never shedding pending ones', async () => {
    const first = ev();
    const box = openOutbox(options({ maxBytes: costOf(first) * 3 + 10 }));
    await box.append(first, 'access');
    await box.append(ev(), 'access');
    await box.append(ev(), 'access');
    const rows = box.peek(3);
    box.deadLetter(rows.slice(0, 2), 'GH_UPLINK_AUTH', 'HTTP 401');
    box.markDelivered(rows.slice(2));
    await box.append(ev(), 'telemetry');
    await box.append(ev(), 'telemetry');
    // Room for one: the delivered row goes, the two pending telemetry events stay.
    expect(box.requeue()).toEqual({ requeued: 1, left: 1 });
    expect(box.stats()).toMatchObject({ depth: 3, rows: 3, deadLetters: 1, shed: 0 });
    expect(box.stats().bytes).toBeLessThanOrEqual(box.stats().maxBytes);
    expect(box.deadLetters().map((d) => d.id)).toEqual([rows[1]!.id]);
    await box.close();
  });

  it('tells listeners after a commit that stored events', async () => {
    const box = openOutbox(options());
    const seen: number[] = [];
    const off = box.onAppend(() => seen.push(box.depth()));
    await box.append(ev(), 'access');
    off();
    await box.append(ev(), 'access');
    expect(seen).toEqual([1]);
    await box.close();
  });

  it('exposes depth, bytes and shed counts as gatehouse_* metrics on the given registry', async () => {
    const metrics = new Registry();
    const box = openOutbox(options({ metrics, maxRows: 1 }));
    await box.append(ev(), 'telemetry');
    await box.append(ev(), 'access');
    const text = await metrics.metrics();
    expect(text).toMatch(/gatehouse_outbox_depth 1/);
    expect(text).toMatch(/gatehouse_outbox_shed_total\{priority="telemetry"\} 1/);
    expect(text).toMatch(/gatehouse_events_appended_total\{priority="access"\} 1/);
    await box.close();
    // A second outbox on the same registry (restart) reuses the metrics instead of throwing.
    const again = openOutbox(options({ metrics }));
    await again.close();
  });

  it('never exceeds its byte and row budget and accounts for every append (property)', async () => {
    const priorities: EventPriority[] = ['telemetry', 'presence', 'engagement', 'access', 'alarm'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ p: fc.constantFrom(...priorities), pad: fc.nat(300), deliver: fc.boolean() }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 400, max: 4000 }),
        async (ops, maxRows, maxBytes) => {
          const sub = mkdtempSync(join(dir, 'p-'));
          const box = openOutbox(options({ path: join(sub, 'o.db'), maxRows, maxBytes }));
          let ok = 0;
          let refused = 0;
          for (const op of ops) {
            const r = await box.append(ev({ data: { pad: 'x'.repeat(op.pad) } }), op.p).then(
              () => true,
              () => false,
            );
            if (r) ok++;
            else refused++;
            if (op.deliver) box.markDelivered(box.peek(1));
            const s = box.stats();
            expect(s.bytes).toBeLessThanOrEqual(maxBytes);
            expect(s.rows).toBeLessThanOrEqual(maxRows);
          }
          const s = box.stats();
          expect(s.appended).toBe(ok);
          expect(s.shed).toBeGreaterThanOrEqual(refused);
          expect(box.peek(1000)).toHaveLength(s.depth);
          await box.close();
          const check = openOutbox(options({ path: join(sub, 'o.db'), maxRows, maxBytes }));
          expect(check.stats()).toMatchObject({ rows: s.rows, bytes: s.bytes, depth: s.depth });
          await check.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});

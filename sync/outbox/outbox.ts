import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { Alarm } from '../../gateway/core/types.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Logger } from '../../gateway/core/log.js';
import { EVENT_PRIORITY, type CloudEvent, type EventPriority, type EventSink } from '../../gateway/events/cloudevent.js';
import { GatehouseError, type ErrorCode } from '../../gateway/errors.js';
import { openDatabase, type Db, type Migration } from '../../gateway/store/db.js';
import { sqliteModulePath } from '../../gateway/store/sqlite-module.js';
import { startBackgroundWorker } from '../../gateway/ops/thread-priority.js';
import { counter, gauge } from '../metrics.js';

/**
 * What one row costs against the byte budget on top of its JSON body: the
 * row header, the seq/priority/time columns and its entries in two indexes.
 * An estimate, measured on SQLite 3.4x with 300-byte events (docs/sync.md).
 */
export const ROW_OVERHEAD_BYTES = 64;

/**
 * Most appends one group commit writes. Inserting holds the event loop for
 * ~4-16 µs per row (bench outbox, commit_max_ms), so 256 rows keep each
 * commit to a few ms; a larger backlog is written group by group, yielding
 * to the event loop in between.
 */
const MAX_GROUP = 256;
/** The `outbox_full` alarm clears once usage falls below this share of the budget. */
const CLEAR_RATIO = 0.8;

const PRIORITY_NAMES = Object.keys(EVENT_PRIORITY) as EventPriority[];

/**
 * Checkpoints (copying the WAL into the database file, two fsyncs) run on a
 * second connection in a worker thread, so they never hold the event loop.
 * Plain CommonJS evaluated in the worker: no build step, no TS loader needed.
 * PASSIVE never blocks the writer; a WAL with nothing new is not touched.
 */
const CHECKPOINTER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String((err && err.message) || err) }); }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch { /* closing anyway */ }
  parentPort.postMessage({ stopped: true });
});
`;
const CHECKPOINT_INTERVAL_MS = 1000;

export const OUTBOX_MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        priority INTEGER NOT NULL,
        body TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
      );
      CREATE INDEX outbox_pending ON outbox(seq) WHERE delivered_at IS NULL;
      CREATE INDEX outbox_shed ON outbox(priority, seq) WHERE delivered_at IS NULL;
      CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;
      CREATE TABLE dead_letter (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
      );
    `,
  },
  {
    // What a requeue needs to put a dead letter back as it was: its priority (for shedding) and birth time (for lag).
    version: 2,
    up: `
      ALTER TABLE dead_letter ADD COLUMN priority INTEGER;
      ALTER TABLE dead_letter ADD COLUMN created_at INTEGER;
    `,
  },
];

/** Priority given back to dead letters stored before migration 2 kept theirs: the one of access events. */
const LEGACY_DEAD_LETTER_PRIORITY = EVENT_PRIORITY.access;

export interface OutboxOptions {
  path: string;
  /** Budget of stored events in bytes (body + ROW_OVERHEAD_BYTES per row). */
  maxBytes: number;
  maxRows: number;
  /** Delivered rows are kept this long (for audits), then purged; earlier when the budget needs the room. */
  retentionHours: number;
  /** Appends within this window share one transaction and one fsync. 0 = next turn of the event loop. */
  groupCommitMs: number;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  raiseAlarm: (a: Alarm) => void;
  /**
   * Hard cap of the SQLite file in pages (`PRAGMA max_page_count`). Lets tests
   * simulate a full disk without privileges; unset = no cap.
   */
  maxPageCount?: number;
}

/** One pending event as the uplink reads it: `body` is the CloudEvent JSON exactly as appended. */
export interface OutboxRow {
  seq: number;
  id: string;
  body: string;
  createdAt: number;
}

export interface DeadLetter {
  seq: number;
  id: string;
  code: string;
  reason: string;
  at: number;
}

/** What `requeue` did: `left` dead letters matched but did not fit the budget and stay where they are. */
export interface RequeueResult {
  requeued: number;
  left: number;
}

export interface OutboxStats {
  /** Events waiting for delivery. */
  depth: number;
  /** Rows stored (pending + delivered within retention). */
  rows: number;
  /** Bytes counted against the budget. */
  bytes: number;
  maxBytes: number;
  maxRows: number;
  appended: number;
  delivered: number;
  /** Events dropped to stay within the budget (pending rows removed and appends refused). */
  shed: number;
  shedByPriority: Record<EventPriority, number>;
  deadLetters: number;
  /** Longest time one group commit held the event loop (ms, since open): the fsync is not part of it. */
  commitMaxMs: number;
  /** Where a corrupt outbox file was moved at open, if it was. */
  movedAside?: string;
}

export interface Outbox extends EventSink {
  depth(): number;
  stats(): OutboxStats;
  /** Pending rows in append order, after `afterSeq`. */
  peek(limit: number, afterSeq?: number): OutboxRow[];
  /** Marks rows delivered (acknowledged by the central side); they are purged after retention. */
  markDelivered(rows: readonly OutboxRow[]): void;
  /** Moves rows to the dead-letter table with the reason the central side gave. */
  deadLetter(rows: readonly OutboxRow[], code: ErrorCode, reason: string): void;
  deadLetters(limit?: number): DeadLetter[];
  /** Dead letters per code. */
  deadLetterCodes(): Record<string, number>;
  /**
   * Moves dead letters (all, or those with `code`) back into the outbox under
   * their original seq, so they go out before newer events, with their
   * original CloudEvents ids, so the central side dedupes any it already has.
   * Never exceeds the budget: delivered rows make room, pending ones are not
   * shed for it. Call it only while no other process has this outbox open.
   */
  requeue(filter?: { code?: string }): RequeueResult;
  /** Called after each group commit that stored at least one event; returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Deletes delivered rows older than the retention; returns how many. */
  purge(): number;
  /** Flushes pending appends, then closes the database. */
  close(): Promise<void>;
}

interface PendingAppend {
  id: string;
  body: string;
  cost: number;
  priority: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

type Outcome = GatehouseError | undefined;

/**
 * The durable outbox (issue #8): events are appended with group commit
 * (one transaction + fsync per window, synchronous=FULL) and each append
 * resolves only once its transaction is on disk. A byte/row budget is never
 * exceeded: delivered rows go first, then pending rows by priority
 * (telemetry before alarms), oldest first.
 */
export function openOutbox(opts: OutboxOptions): Outbox {
  const { clock, log, raiseAlarm } = opts;
  // NORMAL: SQLite does not fsync on commit; each group commit's WAL is fsynced
  // below on the libuv thread pool instead, so an SD card's fsync latency
  // never stalls the event loop (and the decisions on it). See syncWal.
  const opened = openDatabase(opts.path, { migrations: OUTBOX_MIGRATIONS, synchronous: 'NORMAL' });
  const db: Db = opened.db;
  if (opts.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(opts.maxPageCount)}`);
  const checkpointer = startCheckpointer(opts.path, db, log);

  const m = {
    appended: counter(opts.metrics, 'gatehouse_events_appended_total', 'Events appended durably to the outbox, by priority.', ['priority']),
    shed: counter(opts.metrics, 'gatehouse_outbox_shed_total', 'Events dropped to keep the outbox within its budget, by priority.', ['priority']),
    errors: counter(opts.metrics, 'gatehouse_errors_total', 'Errors by stable code (see docs/errors.md).', ['code']),
    depth: gauge(opts.metrics, 'gatehouse_outbox_depth', 'Events waiting in the outbox.'),
    bytes: gauge(opts.metrics, 'gatehouse_outbox_bytes', 'Bytes of the outbox counted against its budget.'),
    deadLetters: gauge(opts.metrics, 'gatehouse_outbox_dead_letters', 'Events in the dead-letter table.'),
  };

  if (opened.movedAside) {
    log.error({ code: 'GH_STORE_CORRUPT', movedAside: opened.movedAside }, 'outbox database failed its integrity check; moved aside, starting a fresh outbox');
    m.errors.inc({ code: 'GH_STORE_CORRUPT' });
    raiseAlarm({
      kind: 'cache_corrupt',
      source: 'outbox',
      code: 'GH_STORE_CORRUPT',
      message: `outbox database was corrupt and was moved to ${opened.movedAside}; events in it were not delivered`,
      at: clock.now(),
      active: true,
      details: { movedAside: opened.movedAside },
    });
  }

  const q = {
    insert: db.prepare('INSERT INTO outbox (id, priority, body, bytes, created_at) VALUES (?, ?, ?, ?, ?)'),
    peek: db.prepare('SELECT seq, id, body, created_at AS createdAt FROM outbox WHERE delivered_at IS NULL AND seq > ? ORDER BY seq LIMIT ?'),
    markDelivered: db.prepare('UPDATE outbox SET delivered_at = ? WHERE seq = ? AND delivered_at IS NULL'),
    oldestDelivered: db.prepare('SELECT seq, bytes FROM outbox WHERE delivered_at IS NOT NULL ORDER BY delivered_at LIMIT ?'),
    sheddable: db.prepare('SELECT seq, bytes, priority FROM outbox WHERE delivered_at IS NULL AND priority <= ? ORDER BY priority, seq LIMIT ?'),
    deleteSeq: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    expiredTotals: db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?'),
    deleteExpired: db.prepare('DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?'),
    moveToDeadLetter: db.prepare('INSERT OR REPLACE INTO dead_letter (seq, id, body, code, reason, at, priority, created_at) SELECT seq, id, body, ?, ?, ?, priority, created_at FROM outbox WHERE seq = ?'),
    deadLetterRows: db.prepare(`SELECT seq, id, body, coalesce(priority, ${LEGACY_DEAD_LETTER_PRIORITY}) AS priority, coalesce(created_at, at) AS createdAt FROM dead_letter WHERE ? IS NULL OR code = ? ORDER BY seq`),
    deadLetterCodes: db.prepare('SELECT code, count(*) AS n FROM dead_letter GROUP BY code ORDER BY code'),
    reinsert: db.prepare('INSERT INTO outbox (seq, id, priority, body, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING'),
    deleteDeadLetter: db.prepare('DELETE FROM dead_letter WHERE seq = ?'),
    rowBytes: db.prepare('SELECT bytes, delivered_at AS deliveredAt FROM outbox WHERE seq = ?'),
    deadLetters: db.prepare('SELECT seq, id, code, reason, at FROM dead_letter ORDER BY seq LIMIT ?'),
  };

  const totals = db.prepare('SELECT count(*) AS rows, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(delivered_at IS NULL), 0) AS pending FROM outbox').get() as { rows: number; bytes: number; pending: number };
  const state = {
    rows: totals.rows,
    bytes: totals.bytes,
    pending: totals.pending,
    deadLetters: (db.prepare('SELECT count(*) AS n FROM dead_letter').get() as { n: number }).n,
    appended: 0,
    delivered: 0,
    shedByPriority: Object.fromEntries(PRIORITY_NAMES.map((p) => [p, 0])) as Record<EventPriority, number>,
    fullAlarm: false,
    commitMaxMs: 0,
  };
  const publishGauges = () => {
    m.depth.set(state.pending);
    m.bytes.set(state.bytes);
    m.deadLetters.set(state.deadLetters);
  };
  publishGauges();

  const queue: PendingAppend[] = [];
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;
  const listeners = new Set<() => void>();

  const overBudget = (cost: number) => state.rows + 1 > opts.maxRows || state.bytes + cost > opts.maxBytes;

  const countShed = (priority: number, n = 1) => {
    const name = PRIORITY_NAMES[priority] ?? 'telemetry';
    state.shedByPriority[name] += n;
  };

  /** Frees room for one row of `cost` bytes at `priority`; true when there is room now. */
  const makeRoom = (cost: number, priority: number): boolean => {
    // Delivered rows are only kept for audit: they go first, whatever their retention.
    while (overBudget(cost)) {
      const victims = q.oldestDelivered.all(64) as Array<{ seq: number; bytes: number }>;
      if (victims.length === 0) break;
      for (const v of victims) {
        q.deleteSeq.run(v.seq);
        state.rows -= 1;
        state.bytes -= v.bytes;
        if (!overBudget(cost)) break;
      }
    }
    while (overBudget(cost)) {
      const victims = q.sheddable.all(priority, 64) as Array<{ seq: number; bytes: number; priority: number }>;
      if (victims.length === 0) return false;
      for (const v of victims) {
        q.deleteSeq.run(v.seq);
        state.rows -= 1;
        state.pending -= 1;
        state.bytes -= v.bytes;
        countShed(v.priority);
        if (!overBudget(cost)) break;
      }
    }
    return true;
  };

  const writeGroup = db.transaction((group: PendingAppend[], now: number): Outcome[] => {
    return group.map((item) => {
      if (item.cost > opts.maxBytes) {
        countShed(item.priority);
        return new GatehouseError('GH_OUTBOX_FULL', `event ${item.id} (${item.cost} bytes) is larger than the whole outbox budget`, { id: item.id, bytes: item.cost });
      }
      if (overBudget(item.cost) && !makeRoom(item.cost, item.priority)) {
        countShed(item.priority);
        return new GatehouseError('GH_OUTBOX_FULL', `outbox is full of higher-priority events; event ${item.id} was shed`, { id: item.id });
      }
      q.insert.run(item.id, item.priority, item.body, item.cost, now);
      state.rows += 1;
      state.pending += 1;
      state.bytes += item.cost;
      return undefined;
    });
  });

  const updateFullAlarm = (shedBefore: number) => {
    const shedNow = totalShed();
    if (shedNow > shedBefore) {
      if (!state.fullAlarm) {
        state.fullAlarm = true;
        m.errors.inc({ code: 'GH_OUTBOX_FULL' });
        log.warn({ code: 'GH_OUTBOX_FULL', rows: state.rows, bytes: state.bytes, maxRows: opts.maxRows, maxBytes: opts.maxBytes }, 'outbox budget reached; shedding low-priority events');
        raiseAlarm({ kind: 'outbox_full', source: 'outbox', code: 'GH_OUTBOX_FULL', message: 'outbox budget reached; low-priority events are being shed', at: clock.now(), active: true, details: { shed: { ...state.shedByPriority } } });
      }
    } else if (state.fullAlarm && state.bytes < opts.maxBytes * CLEAR_RATIO && state.rows < opts.maxRows * CLEAR_RATIO) {
      state.fullAlarm = false;
      log.info({ rows: state.rows, bytes: state.bytes }, 'outbox back under budget');
      raiseAlarm({ kind: 'outbox_full', source: 'outbox', code: 'GH_OUTBOX_FULL', message: 'outbox back under budget', at: clock.now(), active: false });
    }
  };

  const totalShed = () => PRIORITY_NAMES.reduce((sum, p) => sum + state.shedByPriority[p], 0);

  const clearScheduled = () => {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };
  /** Commits one group, then yields to the event loop before the next: decisions run in between. */
  const flush = () => {
    clearScheduled();
    if (queue.length === 0) return;
    commitGroup(queue.splice(0, MAX_GROUP));
    if (queue.length > 0) immediate = setImmediate(flush);
  };
  const flushAll = () => {
    clearScheduled();
    while (queue.length > 0) commitGroup(queue.splice(0, MAX_GROUP));
  };

  /**
   * Makes committed transactions durable: fsync of the WAL file, off the main
   * thread. A transaction in WAL mode is durable once its frames are on disk
   * in the WAL, or once a checkpoint copied them (checkpoints fsync under
   * synchronous=NORMAL). fsync flushes the file's inode whichever descriptor
   * it is called on.
   */
  const walPath = `${opts.path}-wal`;
  const syncs = new Set<Promise<void>>();
  // One descriptor on the WAL serves every commit: SQLite deletes the WAL file
  // only when the last connection closes (this one closes last, in close()) and
  // otherwise rewinds or truncates it in place, so it stays the same file. Opening
  // and closing it per commit were two of each commit's three trips to the
  // thread pool, each with its callback on the event loop.
  let wal: Promise<FileHandle | undefined> | undefined;
  const openWal = async (): Promise<FileHandle | undefined> => {
    try {
      return await open(walPath, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return undefined;
    }
  };
  const syncWal = async (): Promise<void> => {
    wal ??= openWal();
    const opening = wal;
    let fh: FileHandle | undefined;
    try {
      fh = await opening;
    } catch (err) {
      if (wal === opening) wal = undefined;
      throw err;
    }
    if (!fh) {
      // No WAL file (yet): everything was checkpointed into the database file; make that durable. Asked again next time.
      if (wal === opening) wal = undefined;
      const dbFile = await open(opts.path, 'r+');
      try {
        await dbFile.datasync();
      } finally {
        await dbFile.close();
      }
      return;
    }
    try {
      await fh.datasync();
    } catch (err) {
      // A descriptor that failed once is not trusted again: the next commit opens the file afresh. A commit
      // syncing through it at this moment fails too, which reports no more durability than there is.
      if (wal === opening) {
        wal = undefined;
        void fh.close().catch(() => undefined);
      }
      throw err;
    }
  };
  const closeWal = async () => {
    const opening = wal;
    wal = undefined;
    const fh = await opening?.catch(() => undefined);
    await fh?.close();
  };

  const commitGroup = (group: PendingAppend[]) => {
    const before = { rows: state.rows, bytes: state.bytes, pending: state.pending, shed: { ...state.shedByPriority } };
    const shedBefore = totalShed();
    let outcomes: Outcome[];
    const t0 = performance.now();
    try {
      outcomes = writeGroup(group, clock.now());
      state.commitMaxMs = Math.max(state.commitMaxMs, performance.now() - t0);
    } catch (err) {
      // The transaction rolled back: so do the counters.
      Object.assign(state, { rows: before.rows, bytes: before.bytes, pending: before.pending, shedByPriority: before.shed });
      const code: ErrorCode = isDiskFull(err) ? 'GH_STORE_DISK_FULL' : 'GH_OUTBOX_APPEND';
      const failure = new GatehouseError(code, `outbox append failed: ${(err as Error).message}`, { events: group.length }, { cause: err });
      m.errors.inc({ code }, group.length);
      log.error({ code, err: (err as Error).message, events: group.length }, 'outbox append failed');
      if (code === 'GH_STORE_DISK_FULL') {
        raiseAlarm({ kind: 'storage_low', source: 'outbox', code, message: 'disk full: outbox appends are refused until space is freed', at: clock.now(), active: true });
      }
      for (const item of group) item.reject(failure);
      return;
    }
    const stored: PendingAppend[] = [];
    outcomes.forEach((outcome, i) => {
      const item = group[i]!;
      if (outcome) item.reject(outcome);
      else stored.push(item);
    });
    // Shed = pending rows removed by makeRoom + appends refused, both counted in state.
    for (const p of PRIORITY_NAMES) {
      const shedHere = state.shedByPriority[p] - before.shed[p];
      if (shedHere > 0) m.shed.inc({ priority: p }, shedHere);
    }
    updateFullAlarm(shedBefore);
    publishGauges();
    if (stored.length === 0) return;
    const durable = syncWal().then(
      () => {
        state.appended += stored.length;
        for (const item of stored) {
          m.appended.inc({ priority: PRIORITY_NAMES[item.priority] ?? 'telemetry' });
          item.resolve();
        }
        for (const l of listeners) l();
      },
      (err: unknown) => {
        const code: ErrorCode = isDiskFull(err) ? 'GH_STORE_DISK_FULL' : 'GH_OUTBOX_APPEND';
        m.errors.inc({ code }, stored.length);
        log.error({ code, err: (err as Error).message, events: stored.length }, 'outbox fsync failed; the events are stored but may not survive a power cut');
        const failure = new GatehouseError(code, `outbox fsync failed: ${(err as Error).message}`, { events: stored.length }, { cause: err });
        for (const item of stored) item.reject(failure);
      },
    );
    syncs.add(durable);
    void durable.finally(() => syncs.delete(durable));
  };

  const schedule = () => {
    if (immediate) return;
    // A full group goes at the next turn of the loop, never inside append(): the caller is the decision path.
    if (queue.length >= MAX_GROUP || opts.groupCommitMs <= 0) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      immediate = setImmediate(flush);
      return;
    }
    if (timer) return;
    timer = setTimeout(flush, opts.groupCommitMs);
  };

  const retentionMs = opts.retentionHours * 3_600_000;
  const purge = (): number => {
    if (closed) return 0;
    const cutoff = clock.now() - retentionMs;
    const n = db.transaction(() => {
      const t = q.expiredTotals.get(cutoff) as { n: number; b: number };
      if (t.n > 0) q.deleteExpired.run(cutoff);
      state.rows -= t.n;
      state.bytes -= t.b;
      return t.n;
    })();
    if (n > 0) {
      log.debug({ purged: n }, 'outbox purged delivered events past retention');
      updateFullAlarm(totalShed());
      publishGauges();
    }
    return n;
  };
  const purgeTimer = setInterval(purge, Math.min(retentionMs, 60_000));
  purgeTimer.unref();

  return {
    append(event: CloudEvent, priority: EventPriority): Promise<void> {
      if (closed) return Promise.reject(new GatehouseError('GH_OUTBOX_APPEND', 'outbox is closed'));
      const rank = EVENT_PRIORITY[priority];
      if (rank === undefined) return Promise.reject(new GatehouseError('GH_OUTBOX_APPEND', `unknown event priority "${String(priority)}"`));
      let body: string;
      try {
        body = JSON.stringify(event);
      } catch (err) {
        m.errors.inc({ code: 'GH_OUTBOX_APPEND' });
        return Promise.reject(new GatehouseError('GH_OUTBOX_APPEND', `event ${event.id} cannot be serialised: ${(err as Error).message}`, { id: event.id }, { cause: err }));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ id: event.id, body, cost: Buffer.byteLength(body) + ROW_OVERHEAD_BYTES, priority: rank, resolve, reject });
        schedule();
      });
    },

    depth: () => state.pending,

    stats(): OutboxStats {
      const s: OutboxStats = {
        depth: state.pending,
        rows: state.rows,
        bytes: state.bytes,
        maxBytes: opts.maxBytes,
        maxRows: opts.maxRows,
        appended: state.appended,
        delivered: state.delivered,
        shed: totalShed(),
        shedByPriority: { ...state.shedByPriority },
        deadLetters: state.deadLetters,
        commitMaxMs: Number(state.commitMaxMs.toFixed(2)),
      };
      if (opened.movedAside) s.movedAside = opened.movedAside;
      return s;
    },

    peek(limit: number, afterSeq = 0): OutboxRow[] {
      if (closed) return [];
      return q.peek.all(afterSeq, limit) as OutboxRow[];
    },

    markDelivered(rows: readonly OutboxRow[]): void {
      if (closed || rows.length === 0) return;
      const now = clock.now();
      const changed = db.transaction(() => rows.reduce((n, r) => n + q.markDelivered.run(now, r.seq).changes, 0))();
      state.pending -= changed;
      state.delivered += changed;
      publishGauges();
    },

    deadLetter(rows: readonly OutboxRow[], code: ErrorCode, reason: string): void {
      if (closed || rows.length === 0) return;
      const now = clock.now();
      db.transaction(() => {
        for (const r of rows) {
          const row = q.rowBytes.get(r.seq) as { bytes: number; deliveredAt: number | null } | undefined;
          if (!row) continue;
          q.moveToDeadLetter.run(code, reason, now, r.seq);
          q.deleteSeq.run(r.seq);
          state.rows -= 1;
          state.bytes -= row.bytes;
          if (row.deliveredAt === null) state.pending -= 1;
          state.deadLetters += 1;
        }
      })();
      publishGauges();
    },

    deadLetters: (limit = 100) => q.deadLetters.all(limit) as DeadLetter[],

    deadLetterCodes: () => Object.fromEntries((q.deadLetterCodes.all() as Array<{ code: string; n: number }>).map((r) => [r.code, r.n])),

    requeue(filter = {}): RequeueResult {
      if (closed) throw new GatehouseError('GH_OUTBOX_APPEND', 'outbox is closed');
      const code = filter.code ?? null;
      const before = { rows: state.rows, bytes: state.bytes, pending: state.pending, deadLetters: state.deadLetters };
      const move = db.transaction((): RequeueResult => {
        const rows = q.deadLetterRows.all(code, code) as Array<{ seq: number; id: string; body: string; priority: number; createdAt: number }>;
        let requeued = 0;
        for (const row of rows) {
          const cost = Buffer.byteLength(row.body) + ROW_OVERHEAD_BYTES;
          // Priority -1: only delivered rows may make room; no pending event is shed for a requeue.
          if (overBudget(cost) && !makeRoom(cost, -1)) break;
          if (q.reinsert.run(row.seq, row.id, row.priority, row.body, cost, row.createdAt).changes === 0) continue;
          q.deleteDeadLetter.run(row.seq);
          state.rows += 1;
          state.pending += 1;
          state.bytes += cost;
          state.deadLetters -= 1;
          requeued += 1;
        }
        return { requeued, left: rows.length - requeued };
      });
      let result: RequeueResult;
      try {
        result = move();
      } catch (err) {
        // The transaction rolled back: so do the counters.
        Object.assign(state, before);
        throw err;
      }
      publishGauges();
      if (result.requeued > 0) {
        log.info({ code: filter.code, ...result }, 'dead letters moved back into the outbox');
        for (const l of listeners) l();
      }
      return result;
    },

    onAppend(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    purge,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      flushAll();
      await Promise.all([...syncs]);
      await closeWal();
      await checkpointer?.stop();
      clearInterval(purgeTimer);
      listeners.clear();
      db.close();
    },
  };
}

/** Moves checkpoints to a worker thread; falls back to SQLite's own auto-checkpoint if the worker cannot run. */
function startCheckpointer(path: string, db: Db, log: Logger): { stop: () => Promise<void> } | undefined {
  let worker: Worker;
  try {
    worker = startBackgroundWorker(() => new Worker(CHECKPOINTER_SOURCE, { eval: true, workerData: { module: sqliteModulePath(), path, intervalMs: CHECKPOINT_INTERVAL_MS } }));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'outbox checkpointer thread unavailable; checkpoints run inline');
    return undefined;
  }
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let alive = true;
  const fallBack = (reason: string) => {
    if (!alive) return;
    alive = false;
    log.warn({ reason }, 'outbox checkpointer thread failed; checkpoints run inline');
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('message', (m: { error?: string; stopped?: boolean }) => {
    if (m.error) log.debug({ err: m.error }, 'outbox checkpoint skipped');
  });
  worker.on('error', (err) => fallBack(err.message));
  worker.on('exit', () => fallBack('exited'));
  return {
    stop: async () => {
      if (!alive) return;
      alive = false;
      const stopped = new Promise<void>((resolve) => {
        worker.on('message', (m: { stopped?: boolean }) => m.stopped && resolve());
        worker.once('exit', () => resolve());
      });
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}

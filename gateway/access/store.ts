import type Database from 'better-sqlite3';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { open as openFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop, setTimeout as nextTurn } from 'node:timers/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Credential } from '../core/types.js';
import { errorCodeOf, type ErrorCode } from '../errors.js';
import { openDatabase, type Db, type Migration } from '../store/db.js';
import { credentialHasher } from './credential.js';
import { retireCacheFile } from './retire.js';
import { startSnapshotBuilder, type BuildBatch, type SnapshotBuilder, type SnapshotBuilderOptions } from './snapshot-builder.js';
import { compileEntitlement, recordProblem, storedEntitlement, type CompiledEntitlement, type StoredEntitlement } from './entitlement.js';
import type { EntitlementChange, EntitlementRecord, EntitlementSink } from './model.js';

export interface EntitlementStoreStatus {
  /** True once a snapshot has been applied (now or before a restart). */
  loaded: boolean;
  holders: number;
  /** `issuedAt` of the snapshot in use. */
  issuedAt?: string;
  /** Wall-clock ms of the last snapshot or change batch applied: the cache's age is measured from here. */
  appliedAt?: number;
  /** Set when the file failed its integrity check at open and was moved aside (path of the moved file). */
  corruptMovedAside?: string;
}

/** A ticketed event whose window closed, with the holders of its tickets (engagement's no-show detection). */
export interface EndedTicketEvent {
  eventId: string;
  /** Wall-clock ms. */
  start: number;
  end: number;
  holders: string[];
}

export interface EntitlementStore extends EntitlementSink {
  /** The holder owning this credential, or undefined. Synchronous: one HMAC and one indexed read. */
  lookup(credential: Pick<Credential, 'kind' | 'value'>): CompiledEntitlement | undefined;
  /** A holder's record without credentials (tier, consent, display name, flags), or undefined. One indexed read, or none for a holder just looked up. Read-only: the object may be shared. */
  holder(holderRef: string): Readonly<StoredEntitlement> | undefined;
  /** Ticketed events whose end lies in (`afterMs`, `untilMs`], each with its holders, ordered by end. */
  ticketEventsEndedBetween(afterMs: number, untilMs: number): EndedTicketEvent[];
  status(): EntitlementStoreStatus;
  close(): void;
}

export interface EntitlementStoreOptions {
  dataDir: string;
  key: Buffer;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** Time budget of one snapshot chunk on the event loop before yielding (decisions run between chunks); default 2 ms. */
  chunkMs?: number;
}

/** The first cache file; each snapshot then gets a new generation file named by POINTER_FILE. */
export const ENTITLEMENTS_FILE = 'entitlements.db';
/** Holds the name of the cache file in use; replaced atomically (write, fsync, rename) after a snapshot is complete on disk. */
export const POINTER_FILE = 'entitlements.current';
const CACHE_FILE = /^entitlements(?:-\d+)?\.db(?:-wal|-shm|-journal)?$/;

/** The cache file a store opened on `dataDir` uses. */
export function currentEntitlementsFile(dataDir: string): string {
  try {
    const name = readFileSync(join(dataDir, POINTER_FILE), 'utf8').trim();
    if (/^entitlements-\d+\.db$/.test(name)) return join(dataDir, name);
  } catch {
    // No pointer yet: the first file.
  }
  return join(dataDir, ENTITLEMENTS_FILE);
}

const generationOf = (file: string): number => Number(/-(\d+)\.db$/.exec(file)?.[1] ?? 0);

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE holder (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, body TEXT NOT NULL, creds BLOB NOT NULL);
      CREATE TABLE credential (hash BLOB PRIMARY KEY, holder INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    up: `
      CREATE TABLE ticket_event (holder INTEGER NOT NULL, event_id TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL);
      CREATE INDEX ticket_event_ends_at ON ticket_event (ends_at);
      CREATE INDEX ticket_event_holder ON ticket_event (holder);
    `,
  },
];

/**
 * Stored hash length: HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows
 * truncation to half the output). Collisions among millions of cards stay
 * negligible (~2^-88) and the credential b-tree is denser, so builds and
 * lookups touch fewer pages (scripts/bench/access.ts).
 */
const HASH_BYTES = 16;
/** Page cache of the snapshot build (in the build process): big enough to keep the b-tree's upper levels, small enough that the final commit writes little. */
const BUILD_CACHE_KIB = 8_192;
/** Records per message to the build process: large enough that messaging costs little, small enough to clone in well under a ms. */
const BUILD_BATCH = 1_000;
/**
 * Compiled entitlements kept in memory, oldest out first. It saves the JSON
 * parse and compile of a card read again soon (a retry, a passback attempt);
 * the SQLite lookup runs either way. Small on purpose: in a surge nearly every
 * card is new, and 50,000 entries were about a third of the gateway's live heap
 * in the stadium surge (heap snapshot), which every full GC had to mark.
 */
const CACHE_LIMIT = 5_000;
/** Holders kept by ref after a decision, for the engagement read that follows it. */
const RECENT_LIMIT = 1_000;

/** Statements shared by the change path (prepared below) and the snapshot build process. */
const SQL = {
  insertCredential: 'INSERT OR REPLACE INTO credential (hash, holder) VALUES (?, ?)',
  setMeta: 'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
  insertTicketEvent: 'INSERT INTO ticket_event (holder, event_id, starts_at, ends_at) VALUES (?, ?, ?, ?)',
};
/** The builder keeps the first record of a holder; a duplicate in one snapshot is skipped and reported. */
const BUILD_SQL: SnapshotBuilderOptions['sql'] = {
  ...SQL,
  insertHolder: 'INSERT INTO holder (ref, body, creds) VALUES (?, ?, ?) ON CONFLICT (ref) DO NOTHING',
};

/** The whole schema for a new, empty snapshot file: the migrations in order, as `migrate` would apply them. */
function schemaSql(): string {
  const sorted = [...MIGRATIONS].sort((a, b) => a.version - b.version);
  const steps = sorted.map((m) => {
    if (typeof m.up !== 'string') throw new Error(`migration ${m.version} is code; the snapshot builder runs SQL only`);
    return m.up;
  });
  return `${steps.join(';\n')};\nPRAGMA user_version = ${sorted.at(-1)?.version ?? 0};`;
}

interface Statements {
  lookup: Database.Statement<[Buffer], { id: number; body: string }>;
  holderByRef: Database.Statement<[string], { id: number; body: string; creds: Buffer }>;
  insertHolder: Database.Statement<[string, string, Buffer], unknown>;
  updateBody: Database.Statement<[string, number], unknown>;
  deleteHolder: Database.Statement<[number], unknown>;
  insertCredential: Database.Statement<[Buffer, number | bigint], unknown>;
  deleteCredential: Database.Statement<[Buffer, number], unknown>;
  setMeta: Database.Statement<[string, string], unknown>;
  insertTicketEvent: Database.Statement<[number | bigint, string, number, number], unknown>;
  deleteTicketEvents: Database.Statement<[number], unknown>;
  ticketEventsEnded: Database.Statement<[number, number], { eventId: string; start: number; end: number; ref: string }>;
  getMeta: Database.Statement<[], { key: string; value: string }>;
}

function prepare(db: Db): Statements {
  return {
    lookup: db.prepare('SELECT h.id AS id, h.body AS body FROM credential c JOIN holder h ON h.id = c.holder WHERE c.hash = ?'),
    holderByRef: db.prepare('SELECT id, body, creds FROM holder WHERE ref = ?'),
    insertHolder: db.prepare('INSERT INTO holder (ref, body, creds) VALUES (?, ?, ?)'),
    updateBody: db.prepare('UPDATE holder SET body = ? WHERE id = ?'),
    deleteHolder: db.prepare('DELETE FROM holder WHERE id = ?'),
    insertCredential: db.prepare(SQL.insertCredential),
    // Only the holder's own row: a credential re-issued to someone else stays theirs.
    deleteCredential: db.prepare('DELETE FROM credential WHERE hash = ? AND holder = ?'),
    setMeta: db.prepare(SQL.setMeta),
    insertTicketEvent: db.prepare(SQL.insertTicketEvent),
    deleteTicketEvents: db.prepare('DELETE FROM ticket_event WHERE holder = ?'),
    ticketEventsEnded: db.prepare(
      'SELECT t.event_id AS eventId, t.starts_at AS start, t.ends_at AS "end", h.ref AS ref FROM ticket_event t JOIN holder h ON h.id = t.holder WHERE t.ends_at > ? AND t.ends_at <= ? ORDER BY t.ends_at, t.event_id, h.ref',
    ),
    getMeta: db.prepare('SELECT key, value FROM meta'),
  };
}

const newBatch = (): BuildBatch => ({ refs: [], bodies: [], counts: [], credentials: [], events: [] });

/**
 * The SQLite entitlement cache (issue #3). Credentials are kept only as
 * HMAC-SHA256 hashes. A snapshot is built in a separate file by a process
 * of its own at the lowest CPU priority (snapshot-builder.ts), which reads a
 * staged snapshot file itself or gets records from the event loop in chunks
 * that yield, then named by the pointer file and swapped in: decisions keep
 * using the previous file until the swap, which pauses them for about a
 * millisecond.
 */
export function openEntitlementStore(opts: EntitlementStoreOptions): EntitlementStore {
  const hash = credentialHasher(opts.key);
  const { clock } = opts;
  const log = opts.log;
  const chunkMs = opts.chunkMs ?? 2;
  const dataDir = opts.dataDir;
  let path = currentEntitlementsFile(dataDir);

  const errors = new Counter({ name: 'gatehouse_access_store_errors_total', help: 'Entitlement store errors and skipped records by code.', labelNames: ['code'], registers: [opts.metrics] });
  const holdersGauge = new Gauge({ name: 'gatehouse_access_store_holders', help: 'Holders in the entitlement cache.', registers: [opts.metrics] });
  const loadedGauge = new Gauge({ name: 'gatehouse_access_store_loaded', help: '1 when an entitlement snapshot is loaded, 0 when lanes decide by fail mode.', registers: [opts.metrics] });
  const snapshotSeconds = new Gauge({ name: 'gatehouse_access_snapshot_apply_seconds', help: 'Duration of the last entitlement snapshot load.', registers: [opts.metrics] });
  new Gauge({
    name: 'gatehouse_access_cache_age_seconds',
    help: 'Seconds since the entitlement cache was last refreshed from central (snapshot or change feed); absent when never loaded.',
    registers: [opts.metrics],
    collect() {
      if (meta.appliedAt !== undefined) this.set((clock.now() - meta.appliedAt) / 1000);
    },
  });

  const count = (code: ErrorCode) => errors.inc({ code });

  // Leftovers of a load that a crash interrupted, or of a swap whose old file was not yet deleted.
  const currentName = path.slice(dataDir.length + 1);
  try {
    for (const f of readdirSync(dataDir)) {
      if (CACHE_FILE.test(f) && !f.startsWith(currentName)) rmSync(join(dataDir, f), { force: true });
    }
  } catch {
    // A missing data directory is reported by openDatabase below.
  }

  let db: Db;
  let corruptMovedAside: string | undefined;
  try {
    const opened = openDatabase(path, { migrations: MIGRATIONS, synchronous: 'NORMAL' });
    db = opened.db;
    corruptMovedAside = opened.movedAside;
  } catch (err) {
    // A file that cannot even be moved aside leaves us without a cache, not without a gateway.
    log.error({ code: errorCodeOf(err), err }, 'entitlement cache cannot be opened; lanes decide by their fail mode');
    count(errorCodeOf(err));
    db = openDatabase(':memory:', { migrations: MIGRATIONS }).db;
  }
  if (corruptMovedAside) {
    count('GH_STORE_CORRUPT');
    log.error({ code: 'GH_STORE_CORRUPT', alarm: 'cache_corrupt', movedAside: corruptMovedAside }, 'entitlement cache failed its integrity check and was moved aside; lanes decide by their fail mode until a snapshot arrives');
  }

  let stmts = prepare(db);
  let cache = new Map<number, { compiled: CompiledEntitlement; stored: StoredEntitlement }>();
  // Holders decided recently, by ref: engagement asks for the holder right after each decision
  // (consent, tier), and reading it back from SQLite and parsing it again was ~2% of the surge's
  // event loop. Cleared with `cache` whenever the data changes.
  let recent = new Map<string, StoredEntitlement>();
  let closed = false;
  let loading: { changes: Array<{ changes: EntitlementChange[]; cursor: string }> } | undefined;

  interface Meta {
    loaded: boolean;
    holders: number;
    issuedAt?: string;
    appliedAt?: number;
    cursor?: string;
  }
  let meta: Meta = readMeta();

  function readMeta(): Meta {
    const rows = new Map(stmts.getMeta.all().map((r) => [r.key, r.value]));
    // The count is kept in meta: count(*) over millions of rows would stall decisions after every change batch.
    const m: Meta = { loaded: rows.get('loaded') === '1', holders: Number(rows.get('holders') ?? 0) };
    const issuedAt = rows.get('issuedAt');
    const appliedAt = rows.get('appliedAt');
    const cursor = rows.get('cursor');
    if (issuedAt !== undefined) m.issuedAt = issuedAt;
    if (appliedAt !== undefined) m.appliedAt = Number(appliedAt);
    if (cursor !== undefined) m.cursor = cursor;
    holdersGauge.set(m.holders);
    loadedGauge.set(m.loaded ? 1 : 0);
    return m;
  }

  /** Inserts a holder (known not to exist) and its credential hashes. */
  function insertRecord(s: Statements, record: EntitlementRecord): void {
    const hashes = record.credentials.map((c) => hash(c).subarray(0, HASH_BYTES));
    const { lastInsertRowid } = s.insertHolder.run(record.holder, JSON.stringify(storedEntitlement(record)), Buffer.concat(hashes)) as Database.RunResult;
    for (const h of hashes) s.insertCredential.run(h, lastInsertRowid);
    if (record.event) s.insertTicketEvent.run(lastInsertRowid, record.event.id, Date.parse(record.event.start), Date.parse(record.event.end));
  }

  /** A snapshot record as the build process stores it: the same columns `insertRecord` writes (the process hashes). */
  function addToBatch(batch: BuildBatch, record: EntitlementRecord): void {
    const index = batch.refs.length;
    batch.refs.push(record.holder);
    batch.bodies.push(JSON.stringify(storedEntitlement(record)));
    batch.counts.push(record.credentials.length);
    for (const c of record.credentials) batch.credentials.push(c);
    if (record.event) batch.events.push([index, record.event.id, Date.parse(record.event.start), Date.parse(record.event.end)]);
  }

  function removeHolder(s: Statements, id: number, creds: Buffer): void {
    for (let i = 0; i + HASH_BYTES <= creds.length; i += HASH_BYTES) s.deleteCredential.run(creds.subarray(i, i + HASH_BYTES), id);
    s.deleteTicketEvents.run(id);
    s.deleteHolder.run(id);
  }

  /** Applies one change; returns the change in the number of holders. */
  function applyChange(s: Statements, change: EntitlementChange): number {
    if (change.op === 'upsert') {
      const problem = recordProblem(change.record);
      if (problem) {
        count('GH_DOWNLINK_FORMAT');
        log.warn({ code: 'GH_DOWNLINK_FORMAT', holder: change.record?.holder, problem }, 'entitlement change skipped');
        return 0;
      }
      const existing = s.holderByRef.get(change.record.holder);
      if (existing) removeHolder(s, existing.id, existing.creds);
      insertRecord(s, change.record);
      return existing ? 0 : 1;
    }
    const existing = s.holderByRef.get(change.holder);
    if (!existing) return 0;
    if (change.op === 'delete') {
      removeHolder(s, existing.id, existing.creds);
      return -1;
    }
    const body = JSON.parse(existing.body) as StoredEntitlement;
    if (change.op === 'block') body.blocked = { reason: change.reason };
    else body.consent = change.consent;
    s.updateBody.run(JSON.stringify(body), existing.id);
    return 0;
  }

  function applyChangesTo(target: Db, s: Statements, batches: Array<{ changes: EntitlementChange[]; cursor: string }>, appliedAt: number): void {
    target.transaction(() => {
      let holders = Number(s.getMeta.all().find((r) => r.key === 'holders')?.value ?? 0);
      for (const batch of batches) {
        for (const change of batch.changes) holders += applyChange(s, change);
        s.setMeta.run('cursor', batch.cursor);
      }
      s.setMeta.run('holders', String(holders));
      s.setMeta.run('appliedAt', String(appliedAt));
    })();
  }

  /** Closes a swapped-out cache file and deletes it; the close-time checkpoint runs off the event loop (retire.ts). */
  function retire(old: Db, oldPath: string): void {
    const closeHere = () => {
      try {
        if (old.open) {
          old.pragma('synchronous = OFF');
          old.close();
        }
      } catch (err) {
        log.warn({ err }, 'old entitlement cache did not close cleanly');
      }
    };
    retireCacheFile(oldPath, closeHere, (reason) => {
      log.debug({ reason }, 'old entitlement cache closed on the event loop');
      closeHere();
      for (const suffix of ['', '-wal', '-shm']) void rm(oldPath + suffix, { force: true }).catch(() => {});
    });
  }

  /**
   * Builds a new cache file in the build process (`feed` hands it the records
   * and returns how many it handed over), replays the changes that came in
   * meanwhile, and swaps it in.
   */
  async function applyBuilt(snapshotMeta: { version: string; issuedAt: string }, feed: (builder: SnapshotBuilder, assertOpen: () => void) => Promise<number>, onProgress?: (records: number) => void): Promise<{ holders: number; credentials: number }> {
    if (closed) throw new Error('entitlement store is closed');
    if (loading) throw new Error('a snapshot is already loading');
    const replay: Array<{ changes: EntitlementChange[]; cursor: string }> = [];
    loading = { changes: replay };
    const started = clock.monotonic();
    let builder: SnapshotBuilder | undefined;
    let nextPath: string | undefined;
    let duplicates = 0;
    let skipped = 0;
    const assertOpen = () => {
      if (closed) throw new Error('entitlement store closed during snapshot load');
    };
    try {
      // Built without journal or fsync: a crash mid-build leaves a file no pointer names, deleted at the next open.
      // Past both the file in use and the one the pointer names: they differ when a swap failed after the pointer moved.
      const generation = Math.max(generationOf(path), generationOf(currentEntitlementsFile(dataDir))) + 1;
      nextPath = join(dataDir, `entitlements-${generation}.db`);
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(nextPath + suffix, { force: true });
      builder = startSnapshotBuilder({
        path: nextPath,
        setup: schemaSql(),
        sql: BUILD_SQL,
        key: opts.key,
        hashBytes: HASH_BYTES,
        cacheKib: BUILD_CACHE_KIB,
        onDuplicates(refs) {
          duplicates += refs.length;
          for (const holder of refs) {
            count('GH_DOWNLINK_FORMAT');
            log.warn({ code: 'GH_DOWNLINK_FORMAT', holder, problem: 'duplicate holder' }, 'snapshot record skipped');
          }
        },
        onSkipped(problems) {
          skipped += problems.length;
          for (const { line, holder, problem } of problems) {
            count('GH_DOWNLINK_FORMAT');
            log.warn({ code: 'GH_DOWNLINK_FORMAT', holder, line, problem }, 'snapshot record skipped');
          }
        },
        ...(onProgress ? { onProgress } : {}),
        onLowPriorityUnavailable(reason) {
          log.warn({ reason }, 'snapshot build runs at normal CPU priority: decisions may pause while it loads');
        },
      });
      // Records handed to the build, less those it skipped (the event loop drops bad records before handing them over).
      const valid = (await feed(builder, assertOpen)) - skipped;
      await builder.drain();
      const appliedAt = clock.now();
      const { holders, credentials } = await builder.finish([
        ['loaded', '1'],
        ['holders', String(valid - duplicates)],
        ['version', snapshotMeta.version],
        ['issuedAt', snapshotMeta.issuedAt],
        ['appliedAt', String(appliedAt)],
        ['cursor', snapshotMeta.version],
      ]);
      builder = undefined;
      assertOpen();
      const pointerTmp = join(dataDir, `${POINTER_FILE}.tmp`);
      const fh = await openFile(pointerTmp, 'w');
      try {
        await fh.writeFile(`entitlements-${generation}.db\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(pointerTmp, join(dataDir, POINTER_FILE));
      // Named by the pointer from here on, so never deleted: a restart opens it even if the swap below fails.
      const builtPath = nextPath;
      nextPath = undefined;
      assertOpen();

      const next = openDatabase(builtPath, { migrations: MIGRATIONS, synchronous: 'NORMAL', checkIntegrity: false }).db;
      let swapStart: number;
      let replayed = 0;
      try {
        // Opening the file, preparing its statements and the swap are each a few ms on the event loop: a turn
        // of it between them (a timer, so due decisions and I/O run) keeps them from adding up into one pause.
        await nextTurn();
        assertOpen();
        const nextStmts = prepare(next);
        // Changes that arrived while loading went to the old file; replay them on the new one, one batch per turn
        // of the event loop until none is left. The swap follows without a yield, so none can slip in between.
        while (replayed < replay.length) {
          applyChangesTo(next, nextStmts, replay.slice(replayed, replayed + 1), clock.now());
          replayed++;
          if (replayed < replay.length) {
            await yieldToLoop();
            assertOpen();
          }
        }
        // The swap: synchronous, so no decision runs between the old statements and the new ones.
        swapStart = clock.monotonic();
        const old = db;
        const oldPath = path;
        db = next;
        stmts = nextStmts;
        path = builtPath;
        cache = new Map();
        recent = new Map();
        corruptMovedAside = undefined;
        meta = readMeta();
        // Starting the retiring worker costs the event loop a few ms too: on a later turn than the swap.
        setTimeout(() => retire(old, oldPath), 0);
      } catch (err) {
        if (db !== next) next.close();
        throw err;
      }
      const swapMs = clock.monotonic() - swapStart;
      const seconds = (clock.monotonic() - started) / 1000;
      snapshotSeconds.set(seconds);
      log.info({ version: snapshotMeta.version, holders, credentials, seconds, swapMs, replayed }, 'entitlement snapshot applied');
      return { holders, credentials };
    } catch (err) {
      count('GH_ACCESS_SNAPSHOT_FAILED');
      log.error({ code: 'GH_ACCESS_SNAPSHOT_FAILED', cause: errorCodeOf(err), err }, 'entitlement snapshot load failed; the previous cache stays in use');
      // Stopped before the files go: a half-built file is deleted, never named by the pointer.
      await builder?.abort();
      if (nextPath !== undefined) for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(nextPath + suffix, { force: true });
      throw err;
    } finally {
      loading = undefined;
    }
  }

  return {
    lookup(credential) {
      const row = stmts.lookup.get(hash(credential).subarray(0, HASH_BYTES));
      if (!row) return undefined;
      let entry = cache.get(row.id);
      if (!entry) {
        const stored = JSON.parse(row.body) as StoredEntitlement;
        entry = { compiled: compileEntitlement(stored), stored };
        if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as number);
        cache.set(row.id, entry);
      }
      if (recent.size >= RECENT_LIMIT) recent.clear();
      recent.set(entry.stored.holder, entry.stored);
      return entry.compiled;
    },

    async applySnapshot(records, snapshotMeta) {
      return applyBuilt(snapshotMeta, async (builder, assertOpen) => {
        let valid = 0;
        // The event loop only validates and serialises; the worker hashes and inserts. Yielding every chunkMs
        // lets decisions run in between, and `add` waiting for the worker yields too.
        let batch = newBatch();
        let chunkStart = clock.monotonic();
        for await (const record of records) {
          assertOpen();
          const problem = recordProblem(record);
          if (problem) {
            count('GH_DOWNLINK_FORMAT');
            log.warn({ code: 'GH_DOWNLINK_FORMAT', holder: (record as { holder?: unknown })?.holder, problem }, 'snapshot record skipped');
          } else {
            addToBatch(batch, record);
            valid++;
          }
          const chunkDone = clock.monotonic() - chunkStart >= chunkMs;
          // Sent at the end of each chunk too, so a batch never outlives a chunk: fewer survivors for each young-generation GC.
          if (batch.refs.length > 0 && (chunkDone || batch.refs.length >= BUILD_BATCH)) {
            await builder.add(batch);
            batch = newBatch();
          }
          if (chunkDone) {
            await yieldToLoop();
            chunkStart = clock.monotonic();
          }
        }
        assertOpen();
        if (batch.refs.length > 0) await builder.add(batch);
        return valid;
      });
    },

    async applySnapshotFile(file, snapshotMeta, onProgress) {
      return applyBuilt(snapshotMeta, async (builder) => (await builder.loadFile(file.path, file.fromByte, file.firstLine)).records, onProgress);
    },

    applyChanges(changes, cursor) {
      if (closed) throw new Error('entitlement store is closed');
      const appliedAt = clock.now();
      applyChangesTo(db, stmts, [{ changes, cursor }], appliedAt);
      loading?.changes.push({ changes, cursor });
      cache = new Map();
      recent = new Map();
      meta = readMeta();
    },

    cursor() {
      return meta.cursor;
    },

    holder(holderRef) {
      const seen = recent.get(holderRef);
      if (seen) return seen;
      const row = stmts.holderByRef.get(holderRef);
      return row ? (JSON.parse(row.body) as StoredEntitlement) : undefined;
    },

    ticketEventsEndedBetween(afterMs, untilMs) {
      const events: EndedTicketEvent[] = [];
      let current: EndedTicketEvent | undefined;
      for (const row of stmts.ticketEventsEnded.iterate(afterMs, untilMs)) {
        if (current?.eventId !== row.eventId || current.end !== row.end) {
          current = { eventId: row.eventId, start: row.start, end: row.end, holders: [] };
          events.push(current);
        }
        current.holders.push(row.ref);
      }
      return events;
    },

    status() {
      const s: EntitlementStoreStatus = { loaded: meta.loaded, holders: meta.holders };
      if (meta.issuedAt !== undefined) s.issuedAt = meta.issuedAt;
      if (meta.appliedAt !== undefined) s.appliedAt = meta.appliedAt;
      if (corruptMovedAside !== undefined) s.corruptMovedAside = corruptMovedAside;
      return s;
    },

    close() {
      if (closed) return;
      closed = true;
      if (db.open) db.close();
    },
  };
}

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Builds a snapshot's cache file on a worker thread, so that the credential
 * HMACs, the inserts, the COMMIT of the dirty page cache, the switch to WAL
 * and the fsync of the ~190 MB file (N = 1,000,000) never hold the event loop
 * that decides at the gate (issue #8: "no pause longer than a few
 * milliseconds"). The event loop validates and serialises records and
 * forwards them in batches.
 *
 * The worker is plain CommonJS evaluated from a string, like the outbox
 * checkpointer: it needs no TypeScript loader, so it runs the same under
 * vitest, under `bin/gatehouse.js` (tsx) and from the compiled dist/. It runs
 * the SQL the store hands it (schema and statements stay in store.ts) and the
 * credential HMAC written as credentialHasher writes it, pinned to
 * credential.ts by snapshot-builder.test.ts.
 */

/**
 * Nice value of the builder thread (Linux). When other work competes for the
 * CPUs, the event loop that decides wins over the build; on an idle second
 * core it changes nothing, so a quiet box builds as fast as before.
 */
const BUILD_NICE = 10;

const BUILDER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.module);
const crypto = require('node:crypto');
const { path, setup, sql, cacheKib, nice, key, hashBytes } = workerData;
// HMAC-SHA256 of "kind:value", truncated: the same bytes as hashCredential in credential.ts (snapshot-builder.test.ts).
// RFC 2104 §2 with the pads computed once, like credentialHasher, and latin1 strings (one char per byte) instead of
// Buffers: an object or Buffer per hash would leave millions of them for the GC, whose helper threads then compete
// with the event loop for the CPUs.
const BLOCK = 64;
const oneShot = crypto.hash;
let hmac;
if (typeof oneShot === 'function' && key.length <= BLOCK) {
  const inner = Buffer.alloc(BLOCK + 4 * 1024 + 64, 0x36);
  const outer = Buffer.alloc(BLOCK + 32, 0x5c);
  for (let i = 0; i < key.length; i++) { inner[i] ^= key[i]; outer[i] ^= key[i]; }
  hmac = (credential) => {
    if (credential.length * 3 > inner.length - BLOCK) return crypto.createHmac('sha256', key).update(credential, 'utf8').digest('latin1').slice(0, hashBytes);
    const n = inner.write(credential, BLOCK, 'utf8');
    outer.write(oneShot('sha256', inner.subarray(0, BLOCK + n), 'latin1'), BLOCK, 'latin1');
    return oneShot('sha256', outer, 'latin1').slice(0, hashBytes);
  };
} else {
  hmac = (credential) => crypto.createHmac('sha256', key).update(credential, 'utf8').digest('latin1').slice(0, hashBytes);
}
if (nice) {
  // Linux gives each thread its own nice value; /proc/thread-self names this thread's id.
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    require('node:os').setPriority(tid, nice);
  } catch { /* not Linux: the build runs at the process priority */ }
}
let db;
let holders = 0;
let credentials = 0;
let insertHolder, insertCredential, insertTicketEvent, setMeta;
const fail = (err) => {
  try { if (db && db.open) db.close(); } catch { /* the store deletes the file */ }
  db = undefined;
  parentPort.postMessage({ type: 'failed', message: String((err && err.message) || err), code: err && err.code });
  parentPort.close();
};
try {
  db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -' + cacheKib);
  db.pragma('locking_mode = EXCLUSIVE');
  db.exec(setup);
  insertHolder = db.prepare(sql.insertHolder);
  insertCredential = db.prepare(sql.insertCredential);
  insertTicketEvent = db.prepare(sql.insertTicketEvent);
  setMeta = db.prepare(sql.setMeta);
  db.exec('BEGIN');
} catch (err) {
  fail(err);
}
function batch(m) {
  const duplicates = [];
  let e = 0;
  let c = 0;
  for (let i = 0; i < m.refs.length; i++) {
    const n = m.counts[i];
    let text = '';
    for (let k = 0; k < n; k++) text += hmac(m.credentials[c++]);
    // One small Buffer per record, from Node's pool; each credential row binds a view of it.
    const creds = Buffer.from(text, 'latin1');
    const r = insertHolder.run(m.refs[i], m.bodies[i], creds);
    if (r.changes === 0) duplicates.push(m.refs[i]);
    else {
      holders++;
      credentials += n;
      for (let k = 0; k < n; k++) insertCredential.run(creds.subarray(k * hashBytes, (k + 1) * hashBytes), r.lastInsertRowid);
    }
    const ev = m.events[e];
    if (ev && ev[0] === i) {
      if (r.changes !== 0) insertTicketEvent.run(r.lastInsertRowid, ev[1], ev[2], ev[3]);
      e++;
    }
  }
  parentPort.postMessage({ type: 'ack', duplicates });
}
function finish(m) {
  for (const [key, value] of m.meta) setMeta.run(key, value);
  db.exec('COMMIT');
  db.close();
  // WAL now, without fsync, so the main thread's open at the swap writes nothing.
  db = new Database(path);
  db.pragma('synchronous = OFF');
  db.pragma('journal_mode = WAL');
  db.close();
  db = undefined;
  const fd = fs.openSync(path, 'r+');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  parentPort.postMessage({ type: 'done', holders, credentials });
  parentPort.close();
}
if (db) parentPort.on('message', (m) => {
  try {
    if (m.type === 'batch') batch(m);
    else if (m.type === 'finish') finish(m);
  } catch (err) {
    fail(err);
  }
});
`;

/** Records the main thread has checked and serialised: `counts[i]` credentials (`kind:value`, hashed by the worker) for record i. */
export interface BuildBatch {
  refs: string[];
  bodies: string[];
  counts: number[];
  credentials: string[];
  /** [record index in this batch, event id, start ms, end ms], in index order. */
  events: Array<[number, string, number, number]>;
}

export interface SnapshotBuilderOptions {
  path: string;
  /** SQL run once on the empty file before the build transaction (the schema). */
  setup: string;
  sql: { insertHolder: string; insertCredential: string; insertTicketEvent: string; setMeta: string };
  /** The gateway's credential key (HMAC-SHA256) and how many bytes of each hash are stored. */
  key: Buffer;
  hashBytes: number;
  cacheKib: number;
  /** Batches sent but not yet inserted; `add` waits beyond this, which bounds memory and the worker's queue. */
  maxInFlight?: number;
  /** Called with the holders the worker refused as already present in this snapshot. */
  onDuplicates: (refs: string[]) => void;
}

export interface SnapshotBuilder {
  /** Sends a batch; resolves at once unless too many are in flight. */
  add(batch: BuildBatch): Promise<void>;
  /** Waits until every batch sent so far is inserted. */
  drain(): Promise<void>;
  /** Writes `meta`, commits, switches the file to WAL and fsyncs it. */
  finish(meta: Array<[string, string]>): Promise<{ holders: number; credentials: number }>;
  /** Stops the worker; the caller deletes the half-built file. */
  abort(): Promise<void>;
}

type FromWorker =
  | { type: 'ack'; duplicates: string[] }
  | { type: 'done'; holders: number; credentials: number }
  | { type: 'failed'; message: string; code?: string };

/** An SQLite error from the worker, with its code (`SQLITE_FULL`, ...) as better-sqlite3 gives it on the main thread. */
export class SnapshotBuildError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SnapshotBuildError';
  }
}

let sqliteEntry: string | undefined;
/** Where better-sqlite3 lives, for `require` in an evaluated worker (resolved once: it is sync file-system work). */
export function sqliteModulePath(): string {
  sqliteEntry ??= createRequire(import.meta.url).resolve('better-sqlite3');
  return sqliteEntry;
}

export function startSnapshotBuilder(opts: SnapshotBuilderOptions): SnapshotBuilder {
  const worker = new Worker(BUILDER_SOURCE, {
    eval: true,
    workerData: { module: sqliteModulePath(), path: opts.path, setup: opts.setup, sql: opts.sql, cacheKib: opts.cacheKib, key: opts.key, hashBytes: opts.hashBytes, nice: BUILD_NICE },
  });
  const maxInFlight = opts.maxInFlight ?? 4;
  let inFlight = 0;
  let failure: Error | undefined;
  let done: { holders: number; credentials: number } | undefined;
  let exited = false;
  // Whoever waits for the worker (room in the queue, the drain, the finish) is woken on every message.
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) {
      if (failure) throw failure;
      if (exited) throw new Error('snapshot builder thread exited');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (failure) throw failure;
  };

  worker.on('message', (m: FromWorker) => {
    if (m.type === 'ack') {
      inFlight--;
      if (m.duplicates.length > 0) opts.onDuplicates(m.duplicates);
    } else if (m.type === 'done') done = { holders: m.holders, credentials: m.credentials };
    else failure = new SnapshotBuildError(m.message, m.code);
    notify();
  });
  worker.on('error', (err) => {
    failure ??= err;
    notify();
  });
  worker.on('exit', () => {
    exited = true;
    notify();
  });

  return {
    async add(batch) {
      if (failure) throw failure;
      inFlight++;
      worker.postMessage({ type: 'batch', ...batch });
      await until(() => inFlight < maxInFlight);
    },
    async drain() {
      await until(() => inFlight === 0);
    },
    async finish(meta) {
      worker.postMessage({ type: 'finish', meta });
      await until(() => done !== undefined);
      return done as { holders: number; credentials: number };
    },
    async abort() {
      await worker.terminate();
    },
  };
}

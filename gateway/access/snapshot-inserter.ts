import { Worker } from 'node:worker_threads';
import { stateWaiter } from '../core/wait-for.js';

/**
 * The SQLite half of the snapshot build, on a thread of the build process,
 * so that parsing and hashing (the process's main thread) and inserting run
 * on both cores at once: the build took 23-26 s on one thread and must stay
 * under 20 s (issue #8). It only runs SQL the store hands it, so it is plain
 * CommonJS evaluated from a string: no TypeScript loader is needed in a
 * worker thread.
 */
const INSERTER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.module);
const { path, setup, sql, cacheKib, hashBytes } = workerData;
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
  // Built without journal or fsync: a crash mid-build leaves a file no pointer names, deleted at the next open.
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
  const hashes = Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength);
  let e = 0;
  let h = 0;
  for (let i = 0; i < m.refs.length; i++) {
    const n = m.counts[i];
    const creds = hashes.subarray(h, h + n * hashBytes);
    h += n * hashBytes;
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
  // WAL now, without fsync, so the event loop's open at the swap writes nothing.
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

/** Records ready to insert: `counts[i]` hashes of `hashBytes` each, in order, belong to record i. */
export interface HashedBatch {
  refs: string[];
  bodies: string[];
  counts: number[];
  /** Its own ArrayBuffer (transferred, so never a view of a shared pool). */
  hashes: Uint8Array;
  /** [record index in this batch, event id, start ms, end ms], in index order. */
  events: Array<[number, string, number, number]>;
}

export interface InserterOptions {
  module: string;
  path: string;
  setup: string;
  sql: { insertHolder: string; insertCredential: string; insertTicketEvent: string; setMeta: string };
  cacheKib: number;
  hashBytes: number;
  /** Batches sent but not yet inserted before `add` waits. */
  maxInFlight?: number;
  /** Called once if the thread fails or exits before it is done, even while nobody waits on it. */
  onFailure: (err: Error) => void;
}

export interface Inserter {
  /** Sends a batch; resolves with the holders refused as duplicates of earlier batches once it is inserted, and waits for room first. */
  add(batch: HashedBatch, onInserted: (duplicates: string[]) => void): Promise<void>;
  /** Waits until every batch sent is inserted. */
  drain(): Promise<void>;
  finish(meta: Array<[string, string]>): Promise<{ holders: number; credentials: number }>;
}

type FromInserter = { type: 'ack'; duplicates: string[] } | { type: 'done'; holders: number; credentials: number } | { type: 'failed'; message: string; code?: string };

/** An error from the inserter thread, with SQLite's code. */
export class InserterError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'InserterError';
  }
}

export function startInserter(opts: InserterOptions): Inserter {
  const worker = new Worker(INSERTER_SOURCE, {
    eval: true,
    workerData: { module: opts.module, path: opts.path, setup: opts.setup, sql: opts.sql, cacheKib: opts.cacheKib, hashBytes: opts.hashBytes },
  });
  const maxInFlight = opts.maxInFlight ?? 4;
  const acks: Array<(duplicates: string[]) => void> = [];
  let failure: Error | undefined;
  let done: { holders: number; credentials: number } | undefined;
  let exited = false;
  const waiter = stateWaiter();
  const notify = waiter.notify;
  const until = (ready: () => boolean) =>
    waiter.until(
      ready,
      () => failure,
      () => (exited ? new InserterError('snapshot inserter thread exited', undefined) : undefined),
    );
  const failed = (err: Error) => {
    if (!failure) {
      failure = err;
      opts.onFailure(err);
    }
    notify();
  };
  worker.on('message', (m: FromInserter) => {
    if (m.type === 'ack') acks.shift()?.(m.duplicates);
    else if (m.type === 'done') done = { holders: m.holders, credentials: m.credentials };
    else return failed(new InserterError(m.message, m.code));
    notify();
  });
  worker.on('error', failed);
  worker.on('exit', () => {
    exited = true;
    if (!done) failed(new InserterError('snapshot inserter thread exited', undefined));
    notify();
  });
  return {
    async add(batch, onInserted) {
      if (failure) throw failure;
      acks.push(onInserted);
      worker.postMessage({ type: 'batch', ...batch }, [batch.hashes.buffer as ArrayBuffer]);
      await until(() => acks.length < maxInFlight);
    },
    async drain() {
      await until(() => acks.length === 0);
    },
    async finish(meta) {
      worker.postMessage({ type: 'finish', meta });
      await until(() => done !== undefined);
      return done as unknown as { holders: number; credentials: number };
    },
  };
}

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { credentialHasher } from './credential.js';
import { parseEntitlementLine, recordProblem, storedEntitlement } from './entitlement.js';
import type { Credential } from '../core/types.js';
import type { EntitlementRecord } from './model.js';
import type { BuildBatch, BuildProblem, FromBuilder, ToBuilder } from './snapshot-build-protocol.js';
import { startInserter, type Inserter } from './snapshot-inserter.js';
import { sqliteModulePath } from '../store/sqlite-module.js';

/**
 * The snapshot build, in a process of its own (started by snapshot-builder.ts
 * at the lowest CPU priority). Its main thread reads the staged NDJSON file,
 * parses and checks each record and hashes the credentials; a thread of its
 * own (snapshot-inserter.ts) inserts, commits, switches the file to WAL and
 * fsyncs it. The gateway's event loop only waits for the
 * answer, so its heap, its garbage collector and its CPU stay with the
 * decisions at the gate (issue #8: no pause longer than a few milliseconds).
 *
 * A process rather than a worker thread because V8's garbage-collection
 * helper threads are shared by every isolate of a process and run at its
 * priority: a worker thread's collections competed with the event loop as
 * equals (scheduler traces of `bench snapshot`, docs/benchmarks.md).
 */

const PROGRESS_EVERY = 10_000;

const send = (m: FromBuilder): void => {
  if (process.connected) process.send?.(m);
};

const BATCH = 1_000;

let inserter: Inserter | undefined;
let hash: (credential: Pick<Credential, 'kind' | 'value'>) => Buffer;
let hashBytes = 16;

function open(m: Extract<ToBuilder, { type: 'open' }>): void {
  hash = credentialHasher(Buffer.from(m.key));
  hashBytes = m.hashBytes;
  inserter = startInserter({ module: sqliteModulePath(), path: m.path, setup: m.setup, sql: m.sql, cacheKib: m.cacheKib, hashBytes, onFailure: fail });
}

/** Collects records into batches for the inserter; credentials are hashed here, on the other core. */
class Batcher {
  private refs: string[] = [];
  private bodies: string[] = [];
  private counts: number[] = [];
  private hashes: Buffer[] = [];
  private events: Array<[number, string, number, number]> = [];

  get size(): number {
    return this.refs.length;
  }

  push(ref: string, body: string, creds: ReadonlyArray<Pick<Credential, 'kind' | 'value'>>, event?: [string, number, number]): void {
    if (event) this.events.push([this.refs.length, ...event]);
    this.refs.push(ref);
    this.bodies.push(body);
    this.counts.push(creds.length);
    for (const c of creds) this.hashes.push(hash(c).subarray(0, hashBytes));
  }

  /** Hands the batch over; `onInserted` gets the duplicates once it is in. Waits while the inserter is behind. */
  async send(onInserted: (duplicates: string[]) => void): Promise<void> {
    if (!inserter) throw new Error('the build was not opened');
    // A fresh ArrayBuffer of its own, so it can be transferred (never a slice of Node's shared pool).
    const hashes = new Uint8Array(this.hashes.length * hashBytes);
    this.hashes.forEach((h, i) => hashes.set(h, i * hashBytes));
    const batch = { refs: this.refs, bodies: this.bodies, counts: this.counts, hashes, events: this.events };
    this.refs = [];
    this.bodies = [];
    this.counts = [];
    this.hashes = [];
    this.events = [];
    await inserter.add(batch, onInserted);
  }
}

function insertBatch(m: BuildBatch): Promise<void> {
  const batcher = new Batcher();
  let e = 0;
  let c = 0;
  for (let i = 0; i < m.refs.length; i++) {
    const n = m.counts[i] ?? 0;
    const ev = m.events[e];
    const event = ev && ev[0] === i ? (e++, [ev[1], ev[2], ev[3]] as [string, number, number]) : undefined;
    batcher.push(m.refs[i] as string, m.bodies[i] as string, m.credentials.slice(c, c + n), event);
    c += n;
  }
  return batcher.send((dups) => send({ type: 'ack', duplicates: dups }));
}

function eventOf(record: EntitlementRecord): [string, number, number] | undefined {
  return record.event ? [record.event.id, Date.parse(record.event.start), Date.parse(record.event.end)] : undefined;
}

/** Reads the records of a staged snapshot file from `fromByte` (past its header line); `firstLine` numbers them for errors. */
async function loadFile(m: Extract<ToBuilder, { type: 'file' }>): Promise<void> {
  const lines = createInterface({ input: createReadStream(m.file, { start: m.fromByte }), crlfDelay: Infinity });
  let lineNo = m.firstLine - 1;
  let records = 0;
  // Reported with the progress every PROGRESS_EVERY records: holders already in this snapshot, and records skipped.
  let duplicates: string[] = [];
  let skipped: BuildProblem[] = [];
  const batcher = new Batcher();
  const collect = (dups: string[]) => {
    if (dups.length > 0) duplicates.push(...dups);
  };
  const report = () => {
    send({ type: 'progress', records, duplicates, skipped });
    duplicates = [];
    skipped = [];
  };
  for await (const line of lines) {
    lineNo++;
    if (line === '') continue;
    // A line that is not a record fails the whole snapshot: it is signed, so central sent it broken.
    const record = parseEntitlementLine(line, lineNo);
    records++;
    const problem = recordProblem(record);
    if (problem) skipped.push({ line: lineNo, holder: record.holder, problem });
    else batcher.push(record.holder, JSON.stringify(storedEntitlement(record)), record.credentials, eventOf(record));
    if (batcher.size >= BATCH) await batcher.send(collect);
    if (records % PROGRESS_EVERY === 0) report();
  }
  if (batcher.size > 0) await batcher.send(collect);
  await inserter?.drain();
  report();
  send({ type: 'read', records });
}

async function finish(m: Extract<ToBuilder, { type: 'finish' }>): Promise<void> {
  if (!inserter) throw new Error('the build was not opened');
  await inserter.drain();
  const counts = await inserter.finish(m.meta);
  send({ type: 'done', ...counts });
}

function fail(err: unknown): void {
  const e = err as { message?: string; code?: string };
  send({ type: 'failed', message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) });
  process.disconnect?.();
}

// Messages are handled one at a time, in order: a file load is asynchronous (it streams), the rest is not.
let queue: Promise<void> = Promise.resolve();
process.on('message', (m: ToBuilder) => {
  queue = queue.then(async () => {
    if (m.type === 'open') open(m);
    else if (m.type === 'batch') await insertBatch(m);
    else if (m.type === 'file') await loadFile(m);
    else if (m.type === 'finish') {
      await finish(m);
      process.disconnect?.();
    }
  }).catch(fail);
});
// The gateway went away (or is done with us): nothing is left to build for.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });

import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stateWaiter } from '../core/wait-for.js';
import { spawnOffLoop, type OffLoopChild } from '../ops/off-loop-child.js';
import { lowPriorityCommand, lowPriorityUnavailable } from '../ops/thread-priority.js';
import type { BuildBatch, BuildProblem, BuildSql, FromBuilder, ToBuilder } from './snapshot-build-protocol.js';

export type { BuildBatch, BuildProblem } from './snapshot-build-protocol.js';

/**
 * Starts the snapshot build process (snapshot-build-process.ts) and talks to
 * it. The credential HMACs, the inserts, the COMMIT of the dirty page cache,
 * the switch to WAL and the fsync of the ~190 MB file (N = 1,000,000) never
 * run on the event loop that decides at the gate (issue #8: "no pause longer
 * than a few milliseconds"); for a staged snapshot file the parsing and
 * checking of each record does not either.
 *
 * The process runs at the lowest CPU priority the OS offers (SCHED_IDLE via
 * chrt on Linux; thread-priority.ts): it gets the CPUs only when the
 * gateway's event loop does not want them. From a source checkout (tsx,
 * vitest) it runs the TypeScript through tsx; from dist/ the compiled file.
 */

export interface SnapshotBuilderOptions {
  path: string;
  /** SQL run once on the empty file before the build transaction (the schema). */
  setup: string;
  sql: BuildSql;
  /** The gateway's credential key (HMAC-SHA256) and how many bytes of each hash are stored. */
  key: Buffer;
  hashBytes: number;
  cacheKib: number;
  /** Batches sent but not yet inserted; `add` waits beyond this, which bounds memory and the process's queue. */
  maxInFlight?: number;
  /** Called with the holders the build refused as already present in this snapshot. */
  onDuplicates: (refs: string[]) => void;
  /** Called with the records of a staged file that the build skipped, and why. */
  onSkipped?: (problems: BuildProblem[]) => void;
  /** Called with the number of records of a staged file read so far. */
  onProgress?: (records: number) => void;
  /** Called when the process could not start at low priority and runs at normal priority instead. */
  onLowPriorityUnavailable?: (reason: string) => void;
}

export interface SnapshotBuilder {
  /** Sends a batch; resolves at once unless too many are in flight. */
  add(batch: BuildBatch): Promise<void>;
  /** Has the build read a staged NDJSON snapshot from `fromByte` (past its header), its first record on line `firstLine`. */
  loadFile(file: string, fromByte: number, firstLine: number): Promise<{ records: number }>;
  /** Waits until every batch sent so far is inserted. */
  drain(): Promise<void>;
  /** Writes `meta`, commits, switches the file to WAL and fsyncs it. */
  finish(meta: Array<[string, string]>): Promise<{ holders: number; credentials: number }>;
  /** Stops the build; the caller deletes the half-built file. */
  abort(): Promise<void>;
}

/** A failure inside the build, with its code (`SQLITE_FULL`, `GH_DOWNLINK_FORMAT`, ...) as the event loop would have seen it. */
export class SnapshotBuildError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SnapshotBuildError';
  }
}

/** How to start the build process: node, plus tsx's loader when this module runs as TypeScript. */
function buildProcessArgv(): string[] {
  const source = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./snapshot-build-process.${source ? 'ts' : 'js'}`, import.meta.url));
  if (!source) return [entry];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, entry];
}

/** Keeps the end of what the process wrote to stderr, for the error if it dies. */
function stderrTail(child: OffLoopChild, max = 2048): () => string {
  let tail = '';
  child.stderr.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-max);
  });
  return () => tail.trim();
}

export function startSnapshotBuilder(opts: SnapshotBuilderOptions): SnapshotBuilder {
  const maxInFlight = opts.maxInFlight ?? 4;
  let ready = false;
  const waiting: ToBuilder[] = [];
  let inFlight = 0;
  let failure: Error | undefined;
  let read: { records: number } | undefined;
  let done: { holders: number; credentials: number } | undefined;
  let exited = false;
  // Whoever waits for the build (room in the queue, the file, the drain, the finish) is woken on every message.
  const waiter = stateWaiter();
  const notify = waiter.notify;
  let child: OffLoopChild;
  let stderr: () => string = () => '';
  const until = (isReady: () => boolean) =>
    waiter.until(
      isReady,
      () => failure,
      () => (exited ? new SnapshotBuildError(`snapshot build process exited${stderr() ? `: ${stderr()}` : ''}`, undefined) : undefined),
    );
  // Messages sent before the process listens would be lost: they wait for its 'ready'.
  const send = (m: ToBuilder) => {
    if (!ready) waiting.push(m);
    else if (child.connected) child.send(m);
  };

  const launch = (lowPriority: boolean) => {
    const [command, args] = lowPriority ? lowPriorityCommand(process.execPath, buildProcessArgv()) : [process.execPath, buildProcessArgv()];
    // Started from a worker thread: a fork from the event loop held it 8-20 ms at a gateway's size (off-loop-child.ts).
    child = spawnOffLoop(command, args);
    stderr = stderrTail(child);
    child.on('message', (m: FromBuilder) => {
      if (m.type === 'ready') {
        ready = true;
        for (const w of waiting.splice(0)) if (child.connected) child.send(w);
      } else if (m.type === 'ack') {
        inFlight--;
        if (m.duplicates.length > 0) opts.onDuplicates(m.duplicates);
      } else if (m.type === 'progress') {
        if (m.duplicates.length > 0) opts.onDuplicates(m.duplicates);
        if (m.skipped.length > 0) opts.onSkipped?.(m.skipped);
        opts.onProgress?.(m.records);
      } else if (m.type === 'read') read = { records: m.records };
      else if (m.type === 'done') done = { holders: m.holders, credentials: m.credentials };
      else failure = new SnapshotBuildError(m.message, m.code);
      notify();
    });
    child.on('error', (err) => {
      failure ??= err;
      notify();
    });
    // Over only when the process has exited and its channel is drained: 'exit' can come before the last message.
    let ends = 0;
    const ended = () => {
      if (++ends < 2) return;
      // The wrapper itself failed (a sandbox that refuses the scheduling policy): build at normal priority rather than never.
      if (!ready && lowPriority && !aborted) {
        const wrapper = lowPriorityUnavailable();
        opts.onLowPriorityUnavailable?.(`${wrapper ?? 'the low-priority wrapper'} could not start the build process${stderr() ? `: ${stderr()}` : ''}`);
        launch(false);
        return;
      }
      exited = true;
      notify();
    };
    child.once('exit', ended);
    child.once('disconnect', ended);
  };
  let aborted = false;
  launch(true);

  send({ type: 'open', path: opts.path, setup: opts.setup, sql: opts.sql, key: opts.key, hashBytes: opts.hashBytes, cacheKib: opts.cacheKib });

  return {
    async add(batch) {
      if (failure) throw failure;
      inFlight++;
      send({ type: 'batch', ...batch });
      await until(() => inFlight < maxInFlight);
    },
    async loadFile(file, fromByte, firstLine) {
      read = undefined;
      send({ type: 'file', file, fromByte, firstLine });
      await until(() => read !== undefined);
      return read as unknown as { records: number };
    },
    async drain() {
      await until(() => inFlight === 0);
    },
    async finish(meta) {
      send({ type: 'finish', path: opts.path, meta });
      await until(() => done !== undefined);
      return done as unknown as { holders: number; credentials: number };
    },
    async abort() {
      aborted = true;
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

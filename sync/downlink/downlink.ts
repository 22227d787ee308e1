import type { KeyObject } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import type { EntitlementChange, EntitlementRecord, EntitlementSink } from '../../gateway/access/model.js';
import { isEntitlementRecord, parseEntitlementLine } from '../../gateway/access/entitlement.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Logger } from '../../gateway/core/log.js';
import type { Alarm } from '../../gateway/core/types.js';
import { GatehouseError, errorCodeOf, isGatehouseError } from '../../gateway/errors.js';
import { counter, gauge } from '../metrics.js';
import { backoffDelay } from '../uplink/uplink.js';
import { SignedBodyVerifier } from './signature.js';
import { wakeablePause } from '../pause.js';

export interface DownlinkOptions {
  /** Base URL of the central API. */
  baseUrl: string;
  token?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Ed25519 public key of the central side; every body must verify against it. */
  publicKey: KeyObject;
  sink: EntitlementSink;
  gatewayId: string;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  raiseAlarm: (a: Alarm) => void;
  /** How long the central side may hold a change-feed request open (default 25 s). */
  pollTimeoutMs?: number;
  /** Where a snapshot is staged until its signature is checked: a folder under the data directory. */
  stagingDir?: string;
  /** Timeout for the response headers of a snapshot request (default 30 s). */
  requestTimeoutMs?: number;
  /** Retry delays after a failed round (default 1 s doubling up to 60 s). */
  backoff?: { baseMs: number; capMs: number };
}

export interface SnapshotProgress {
  phase: 'download' | 'apply';
  bytes: number;
  /** Lines received (download) or records handed to the store (apply). */
  records: number;
  /** From Content-Length, when the central side sent one. */
  totalBytes?: number;
}

export interface SnapshotResult {
  version: string;
  cursor: string;
  holders: number;
  credentials: number;
}

export interface Downlink {
  /** Pulls a snapshot if the store has no cursor, then follows the change feed until stopped. */
  start(): void;
  stop(): Promise<void>;
  /** Downloads, verifies and applies a full snapshot. Throws GatehouseError (GH_DOWNLINK_*) and keeps the store when anything is wrong. */
  pullSnapshot(onProgress?: (p: SnapshotProgress) => void): Promise<SnapshotResult>;
  /** One change-feed round (long-poll); pulls a snapshot when there is no cursor or the central side forgot it. Returns changes applied. */
  pollChanges(): Promise<number>;
}

interface SnapshotMeta {
  gatehouse: 'snapshot';
  gateway?: string;
  version: string;
  issuedAt: string;
  cursor: string;
}
interface ChangesMeta {
  gatehouse: 'changes';
  gateway?: string;
  after: string;
  cursor: string;
}

const WRITE_CHUNK = 1024 * 1024;
/** A header line is a small JSON object; anything longer is not one. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Entitlements from the central side (docs/sync.md "Downlink"): a streamed
 * snapshot and a long-polled change feed, both signed NDJSON. A snapshot is
 * staged to a file while its hash is computed and reaches the store only
 * after its signature verified; anything unsigned, tampered or malformed is
 * rejected with the `snapshot_rejected` alarm and the store keeps what it had.
 */
export function createDownlink(opts: DownlinkOptions): Downlink {
  const { sink, clock, log } = opts;
  const base = opts.baseUrl.endsWith('/') ? opts.baseUrl : opts.baseUrl + '/';
  const gw = encodeURIComponent(opts.gatewayId);
  const pollTimeoutMs = opts.pollTimeoutMs ?? 25_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const stagingDir = opts.stagingDir ?? tmpdir();
  const backoff = opts.backoff ?? { baseMs: 1000, capMs: 60_000 };
  const agent = new Agent({ keepAliveTimeout: 60_000, connect: { timeout: requestTimeoutMs, ...(opts.tls ?? {}) } });
  const m = {
    snapshots: counter(opts.metrics, 'gatehouse_downlink_snapshots_total', 'Entitlement snapshots by result (applied, rejected, failed).', ['result']),
    changes: counter(opts.metrics, 'gatehouse_downlink_changes_total', 'Entitlement changes applied from the change feed.'),
    records: gauge(opts.metrics, 'gatehouse_downlink_snapshot_records', 'Records in the last applied snapshot.'),
    progress: gauge(opts.metrics, 'gatehouse_downlink_snapshot_progress_records', 'Records of the snapshot being downloaded or applied.'),
    lastApplied: gauge(opts.metrics, 'gatehouse_downlink_last_applied_timestamp_seconds', 'When the store last took a snapshot or changes from the central side.'),
    errors: counter(opts.metrics, 'gatehouse_errors_total', 'Errors by stable code (see docs/errors.md).', ['code']),
  };
  let rejectedAlarm = false;
  let running = false;
  let loopDone: Promise<void> | undefined;
  let abort: AbortController | undefined;
  const sleeper = wakeablePause();

  const headers = (): Record<string, string> => ({ accept: 'application/x-ndjson', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) });

  const reject = (err: GatehouseError, what: string): never => {
    m.errors.inc({ code: err.code });
    log.error({ code: err.code }, `${what} rejected: ${err.message}; keeping the current entitlements`);
    if (err.code === 'GH_DOWNLINK_SIGNATURE' || err.code === 'GH_DOWNLINK_FORMAT') {
      rejectedAlarm = true;
      opts.raiseAlarm({ kind: 'snapshot_rejected', source: 'downlink', code: err.code, message: `${what} rejected: ${err.message}`, at: clock.now(), active: true });
    }
    throw err;
  };
  const accepted = () => {
    m.lastApplied.set(clock.now() / 1000);
    if (!rejectedAlarm) return;
    rejectedAlarm = false;
    opts.raiseAlarm({ kind: 'snapshot_rejected', source: 'downlink', message: 'signed entitlements accepted again', at: clock.now(), active: false });
  };

  const get = async (path: string, timeoutMs: number) => {
    abort = new AbortController();
    try {
      const res = await request(new URL(path, base), { method: 'GET', headers: headers(), dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: requestTimeoutMs, signal: abort.signal });
      return res;
    } catch (err) {
      throw new GatehouseError('GH_DOWNLINK_HTTP', `cannot reach the central API: ${(err as Error).message}`, undefined, { cause: err });
    }
  };

  async function pullSnapshot(onProgress?: (p: SnapshotProgress) => void): Promise<SnapshotResult> {
    const res = await get(`v1/gateways/${gw}/entitlements/snapshot`, requestTimeoutMs);
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      m.snapshots.inc({ result: 'failed' });
      return reject(new GatehouseError('GH_DOWNLINK_HTTP', `snapshot request answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`, { status: res.statusCode }), 'snapshot');
    }
    const totalBytes = Number(res.headers['content-length']) || undefined;
    mkdirSync(stagingDir, { recursive: true });
    const dir = mkdtempSync(join(stagingDir, 'snapshot-'));
    const file = join(dir, 'snapshot.ndjson');
    try {
      const fd = openSync(file, 'w');
      let buffered: Buffer[] = [];
      let bufferedBytes = 0;
      const flush = () => {
        if (bufferedBytes === 0) return;
        writeSync(fd, Buffer.concat(buffered));
        buffered = [];
        bufferedBytes = 0;
      };
      let lines = 0;
      const verifier = new SignedBodyVerifier(opts.publicKey, (line) => {
        lines++;
        buffered.push(line);
        bufferedBytes += line.length;
        if (bufferedBytes >= WRITE_CHUNK) flush();
      });
      try {
        for await (const chunk of res.body) {
          verifier.push(chunk as Buffer);
          m.progress.set(lines);
          onProgress?.({ phase: 'download', bytes: verifier.bytes, records: lines, ...(totalBytes ? { totalBytes } : {}) });
        }
        verifier.finish();
        flush();
      } catch (err) {
        m.snapshots.inc({ result: isGatehouseError(err) ? 'rejected' : 'failed' });
        if (isGatehouseError(err)) reject(err, 'snapshot');
        return reject(new GatehouseError('GH_DOWNLINK_HTTP', `snapshot download failed: ${(err as Error).message}`, undefined, { cause: err }), 'snapshot');
      } finally {
        closeSync(fd);
      }

      let header: { line: string; fromByte: number };
      let meta: SnapshotMeta;
      try {
        header = await readHeaderLine(file);
        meta = parseMeta<SnapshotMeta>(header.line, 'snapshot', opts.gatewayId);
      } catch (err) {
        m.snapshots.inc({ result: 'rejected' });
        return reject(err as GatehouseError, 'snapshot');
      }
      let applied = 0;
      const progress = (records: number) => {
        applied = records;
        m.progress.set(applied);
        onProgress?.({ phase: 'apply', bytes: verifier.bytes, records: applied });
      };
      let counts: { holders: number; credentials: number };
      try {
        const snapshotMeta = { version: meta.version, issuedAt: meta.issuedAt };
        // A store that can read the staged file itself does, off the event loop; otherwise the records come from here.
        counts = sink.applySnapshotFile
          ? await sink.applySnapshotFile({ path: file, fromByte: header.fromByte, firstLine: 2 }, snapshotMeta, progress)
          : await sink.applySnapshot(stagedRecords(file, header.fromByte, progress), snapshotMeta);
      } catch (err) {
        m.snapshots.inc({ result: 'rejected' });
        const e = isGatehouseError(err) ? err : new GatehouseError('GH_DOWNLINK_FORMAT', `the store refused the snapshot: ${(err as Error).message}`, undefined, { cause: err });
        return reject(e, 'snapshot');
      }
      onProgress?.({ phase: 'apply', bytes: verifier.bytes, records: applied });
      sink.applyChanges([], meta.cursor);
      m.snapshots.inc({ result: 'applied' });
      m.records.set(applied);
      accepted();
      log.info({ version: meta.version, cursor: meta.cursor, holders: counts.holders, credentials: counts.credentials, bytes: verifier.bytes }, 'entitlement snapshot applied');
      return { version: meta.version, cursor: meta.cursor, ...counts };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function pollChanges(): Promise<number> {
    const cursor = sink.cursor();
    if (cursor === undefined) {
      await pullSnapshot();
      return 0;
    }
    const res = await get(`v1/gateways/${gw}/entitlements/changes?after=${encodeURIComponent(cursor)}&waitMs=${pollTimeoutMs}`, pollTimeoutMs + requestTimeoutMs);
    if (res.statusCode === 410) {
      await res.body.text().catch(() => '');
      log.warn({ cursor }, 'central forgot our change-feed cursor; pulling a fresh snapshot');
      await pullSnapshot();
      return 0;
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      return reject(new GatehouseError('GH_DOWNLINK_HTTP', `change feed answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`, { status: res.statusCode }), 'change feed');
    }
    const lines: string[] = [];
    const verifier = new SignedBodyVerifier(opts.publicKey, (line) => lines.push(line.toString('utf8').replace(/\r?\n$/, '')));
    try {
      for await (const chunk of res.body) verifier.push(chunk as Buffer);
      verifier.finish();
    } catch (err) {
      if (isGatehouseError(err)) return reject(err, 'change feed');
      return reject(new GatehouseError('GH_DOWNLINK_HTTP', `change feed download failed: ${(err as Error).message}`, undefined, { cause: err }), 'change feed');
    }
    let meta: ChangesMeta;
    let changes: EntitlementChange[];
    try {
      meta = parseMeta<ChangesMeta>(lines[0] ?? '', 'changes', opts.gatewayId);
      if (meta.after !== cursor) throw new GatehouseError('GH_DOWNLINK_FORMAT', `changes are for cursor ${meta.after}, we asked after ${cursor}`);
      changes = lines.slice(1).filter((l) => l !== '').map((l, i) => parseChange(l, i + 2));
    } catch (err) {
      return reject(err as GatehouseError, 'change feed');
    }
    if (changes.length > 0 || meta.cursor !== cursor) sink.applyChanges(changes, meta.cursor);
    m.changes.inc(changes.length);
    accepted();
    if (changes.length > 0) log.info({ changes: changes.length, cursor: meta.cursor }, 'entitlement changes applied');
    return changes.length;
  }

  const pause = sleeper.pause;

  const loop = async () => {
    let failures = 0;
    while (running) {
      try {
        await pollChanges();
        failures = 0;
      } catch (err) {
        if (!running) break;
        failures++;
        if (!isGatehouseError(err)) {
          m.errors.inc({ code: errorCodeOf(err) });
          log.error({ err }, 'downlink round failed');
        } else if (err.code === 'GH_DOWNLINK_HTTP') {
          log.warn({ code: err.code, attempt: failures }, err.message);
        }
        await pause(backoffDelay(failures, backoff));
      }
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loopDone = loop();
    },
    async stop() {
      running = false;
      abort?.abort();
      sleeper.wake();
      await loopDone;
      await agent.close();
    },
    pullSnapshot,
    pollChanges,
  };
}

/** The first line of a staged body (its header) and the byte where the next line starts. */
async function readHeaderLine(file: string): Promise<{ line: string; fromByte: number }> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const end = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (end < 0 && bytesRead === buf.length) throw new GatehouseError('GH_DOWNLINK_FORMAT', `the header line is longer than ${MAX_HEADER_BYTES} bytes`);
    const lineEnd = end < 0 ? bytesRead : end;
    return { line: buf.toString('utf8', 0, lineEnd).replace(/\r$/, ''), fromByte: Math.min(lineEnd + 1, bytesRead) };
  } finally {
    await fh.close();
  }
}

/** The records of a staged snapshot, read and parsed here (for a sink that cannot read the file itself). */
async function* stagedRecords(file: string, fromByte: number, progress: (records: number) => void): AsyncGenerator<EntitlementRecord> {
  const lines = createInterface({ input: createReadStream(file, { start: fromByte }), crlfDelay: Infinity });
  let lineNo = 1;
  let records = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line === '') continue;
      records++;
      if (records % 10_000 === 0) progress(records);
      yield parseEntitlementLine(line, lineNo);
    }
    progress(records);
  } finally {
    lines.close();
  }
}

function parseMeta<T extends { gatehouse: string; gateway?: string }>(line: string, kind: T['gatehouse'], gatewayId: string): T {
  let meta: T;
  try {
    meta = JSON.parse(line) as T;
  } catch {
    throw new GatehouseError('GH_DOWNLINK_FORMAT', `the first line is not a ${kind} header`);
  }
  if (meta?.gatehouse !== kind) throw new GatehouseError('GH_DOWNLINK_FORMAT', `expected a ${kind} body, got "${String(meta?.gatehouse)}"`);
  if (meta.gateway !== undefined && meta.gateway !== gatewayId) throw new GatehouseError('GH_DOWNLINK_FORMAT', `the ${kind} is for gateway "${meta.gateway}", not "${gatewayId}"`);
  if (typeof (meta as { cursor?: unknown }).cursor !== 'string') throw new GatehouseError('GH_DOWNLINK_FORMAT', `the ${kind} header has no cursor`);
  return meta;
}


export function parseChange(line: string, lineNo: number): EntitlementChange {
  let c: EntitlementChange;
  try {
    c = JSON.parse(line) as EntitlementChange;
  } catch {
    throw new GatehouseError('GH_DOWNLINK_FORMAT', `line ${lineNo} is not JSON`);
  }
  const holderOk = (h: unknown) => typeof h === 'string' && h.length > 0 && h.length <= 256;
  const ok =
    typeof c === 'object' &&
    c !== null &&
    ((c.op === 'upsert' && isEntitlementRecord(c.record)) ||
      (c.op === 'delete' && holderOk(c.holder)) ||
      (c.op === 'block' && holderOk(c.holder) && typeof c.reason === 'string') ||
      (c.op === 'consent' && holderOk(c.holder) && typeof c.consent === 'object' && c.consent !== null));
  if (!ok) throw new GatehouseError('GH_DOWNLINK_FORMAT', `line ${lineNo} is not an entitlement change`);
  return c;
}

import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger } from '../../gateway/core/log.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import type { EntitlementChange, EntitlementRecord } from '../../gateway/access/model.js';
import { signatureLine } from '../../sync/downlink/signature.js';

const gunzipAsync = promisify(gunzip);

/** Largest batch body the stand-in reads (compressed or not), like a real API gateway limit. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Longest long-poll the stand-in holds a changes request. */
const MAX_WAIT_MS = 30_000;

/**
 * Faults the stand-in can inject (issue #8). `times` limits a fault to the
 * next N matching requests; `scope` picks the routes (default: all).
 */
export type CentralFault = (
  | { kind: 'refuse' }
  | { kind: 'status'; status: number; retryAfterS?: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop_mid_body' }
  | { kind: 'lose_ack' }
  | { kind: 'duplicate_ack' }
  | { kind: 'tamper'; mode: 'bad_signature' | 'unsigned' | 'modified_body' }
) & { times?: number; scope?: 'events' | 'entitlements' | 'all' };

export interface CentralCounts {
  /** Events received, counting redeliveries. */
  received: number;
  /** Distinct event ids held. */
  unique: number;
  /** Events received again (deduped by id). */
  duplicates: number;
  /** Event batches processed (including replays of an idempotency key). */
  batches: number;
}

export interface CentralStandInOptions {
  port?: number;
  host?: string;
  /** Bearer token every request must carry; unset = no auth. */
  token?: string;
  /** Ed25519 private key that signs downlink bodies; a fresh pair is generated when unset. */
  signingKey?: KeyObject;
  entitlements?: EntitlementRecord[];
  log?: Logger;
  /**
   * Keep whole events for `events()` (default true). Benchmarks that send
   * millions of events turn it off: only ids are kept for dedupe and counts.
   */
  keepEvents?: boolean;
  /**
   * Called with each new (not duplicate) event as it is stored: what the
   * simulator times central lag with, at the moment of storage and without
   * copying the whole store to find what is new.
   */
  onEvent?: (event: CloudEvent) => void;
}

export interface CentralStandIn {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** The public half of the signing key (for the gateway's config). */
  readonly publicKey: KeyObject;
  counts(): CentralCounts;
  /** Unique events, in arrival order. */
  events(): CloudEvent[];
  setFault(fault: CentralFault | null): void;
  /** Appends to the change feed (and the snapshot), waking long-polls. Returns the new cursor. */
  publishChange(change: EntitlementChange): string;
  /** Replaces every entitlement; the change feed restarts (old cursors get 410). */
  setEntitlements(records: EntitlementRecord[]): void;
  /** Closes the listener and every connection: the gateway sees connection refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface Waiter {
  after: number;
  wake: () => void;
}

/**
 * A real HTTP server implementing the central API of docs/sync.md, for the
 * demo, the tests and the benchmarks. Dedupes events by id, honours
 * idempotency keys, signs downlink bodies, and injects faults on demand.
 */
export async function startCentralStandIn(opts: CentralStandInOptions = {}): Promise<CentralStandIn> {
  const log = opts.log ?? silentLogger();
  const host = opts.host ?? '127.0.0.1';
  const keys = opts.signingKey ? { privateKey: opts.signingKey, publicKey: derivePublic(opts.signingKey) } : generateKeyPairSync('ed25519');

  const keepEvents = opts.keepEvents !== false;
  const seen = new Map<string, CloudEvent | undefined>();
  const idempotency = new Map<string, string>();
  const counts: CentralCounts = { received: 0, unique: 0, duplicates: 0, batches: 0 };
  const entitlements = new Map<string, EntitlementRecord>((opts.entitlements ?? []).map((r) => [r.holder, r]));
  let feed: Array<{ seq: number; change: EntitlementChange }> = [];
  let feedEpoch = 1;
  let seq = 0;
  let fault: CentralFault | null = null;
  const waiters = new Set<Waiter>();
  const sockets = new Set<Socket>();

  const takeFault = (scope: 'events' | 'entitlements'): CentralFault | null => {
    if (!fault) return null;
    const s = fault.scope ?? 'all';
    if (s !== 'all' && s !== scope) return null;
    const f = fault;
    if (f.times !== undefined) {
      f.times -= 1;
      if (f.times <= 0) fault = null;
    }
    return f;
  };

  const authorised = (req: IncomingMessage): boolean => !opts.token || req.headers.authorization === `Bearer ${opts.token}`;

  const cursorOf = (n: number) => `${feedEpoch}.${n}`;
  const parseCursor = (c: string | null): number | undefined => {
    const m = /^(\d+)\.(\d+)$/.exec(c ?? '');
    if (!m || Number(m[1]) !== feedEpoch || Number(m[2]) > seq) return undefined;
    return Number(m[2]);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const route = /^\/v1\/gateways\/([a-z0-9][a-z0-9_-]{0,62})\/(events|entitlements\/snapshot|entitlements\/changes)$/.exec(url.pathname);
    if (url.pathname === '/healthz') return json(res, 200, { ok: true });
    // Stand-in only (not part of the central API): lets a benchmark in another process read the counts.
    if (url.pathname === '/_standin/counts') return json(res, 200, counts);
    if (!route) return json(res, 404, { error: 'not_found' });
    if (!authorised(req)) return json(res, 401, { error: 'unauthorised' });
    const gateway = route[1]!;
    if (route[2] === 'events') {
      if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
      void handleEvents(req, res).catch((err: unknown) => {
        log.error({ err }, 'stand-in: events handler failed');
        if (!res.headersSent) json(res, 500, { error: 'internal' });
      });
      return;
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'method_not_allowed' });
    void handleDownlink(route[2] === 'entitlements/snapshot' ? 'snapshot' : 'changes', gateway, url, req, res).catch((err: unknown) => {
      log.error({ err }, 'stand-in: downlink handler failed');
      res.destroy();
    });
  };

  async function handleEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const f = takeFault('events');
    if (f?.kind === 'status') {
      req.resume();
      const headers: Record<string, string> = f.retryAfterS !== undefined ? { 'retry-after': String(f.retryAfterS) } : {};
      return json(res, f.status, { error: 'injected' }, headers);
    }
    if (f?.kind === 'drop_mid_body') {
      req.once('data', () => req.socket.destroy());
      req.once('end', () => req.socket.destroy());
      return;
    }
    if (f?.kind === 'slow') await sleep(f.ms);
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/cloudevents-batch+json')) {
      req.resume();
      return json(res, 415, { error: 'unsupported_media_type', expected: 'application/cloudevents-batch+json' });
    }
    const raw = await readBody(req);
    if (raw === undefined) return json(res, 413, { error: 'payload_too_large' });
    let batch: unknown;
    try {
      const body = req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(raw) : raw;
      batch = JSON.parse(body.toString('utf8'));
    } catch {
      return json(res, 400, { error: 'bad_body', message: 'body is not (gzip) JSON' });
    }
    if (!Array.isArray(batch) || !batch.every((e) => typeof (e as CloudEvent)?.id === 'string' && (e as CloudEvent).specversion === '1.0')) {
      return json(res, 400, { error: 'bad_batch', message: 'expected an array of CloudEvents 1.0 with string ids' });
    }
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    counts.batches += 1;
    let accepted = 0;
    let duplicates = 0;
    for (const e of batch as CloudEvent[]) {
      counts.received += 1;
      if (seen.has(e.id)) {
        duplicates += 1;
        counts.duplicates += 1;
      } else {
        seen.set(e.id, keepEvents ? e : undefined);
        counts.unique += 1;
        accepted += 1;
        opts.onEvent?.(e);
      }
    }
    const replayed = key !== undefined && idempotency.has(key);
    const answer = replayed ? idempotency.get(key)! : JSON.stringify({ key: key ?? null, accepted, duplicates });
    if (key !== undefined && !replayed) idempotency.set(key, answer);
    if (f?.kind === 'lose_ack') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer), ...(replayed ? { 'idempotent-replayed': 'true' } : {}) });
    res.end(answer);
    if (f?.kind === 'duplicate_ack') {
      // A misbehaving proxy: the same acknowledgement a second time on the same connection.
      res.once('finish', () => res.socket?.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`));
    }
  }

  async function handleDownlink(kind: 'snapshot' | 'changes', gateway: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const f = takeFault('entitlements');
    if (f?.kind === 'status') {
      const headers: Record<string, string> = f.retryAfterS !== undefined ? { 'retry-after': String(f.retryAfterS) } : {};
      return json(res, f.status, { error: 'injected' }, headers);
    }
    if (f?.kind === 'slow') await sleep(f.ms);
    let lines: string[];
    if (kind === 'snapshot') {
      lines = [JSON.stringify({ gatehouse: 'snapshot', gateway, version: `snap-${feedEpoch}-${seq}`, issuedAt: new Date().toISOString(), cursor: cursorOf(seq), count: entitlements.size })];
      for (const r of entitlements.values()) lines.push(JSON.stringify(r));
    } else {
      const after = parseCursor(url.searchParams.get('after'));
      if (after === undefined) return json(res, 410, { error: 'cursor_gone', message: 'unknown or expired cursor: pull a snapshot' });
      const waitMs = Math.min(Number(url.searchParams.get('waitMs') ?? 0) || 0, MAX_WAIT_MS);
      if (seq === after && waitMs > 0) {
        await new Promise<void>((resolve) => {
          const w: Waiter = { after, wake: () => finish() };
          const timer = setTimeout(() => finish(), waitMs);
          const finish = () => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
          req.socket.once('close', finish);
        });
        if (req.socket.destroyed) return;
      }
      const changes = feed.filter((c) => c.seq > after);
      lines = [JSON.stringify({ gatehouse: 'changes', gateway, after: cursorOf(after), cursor: cursorOf(seq), count: changes.length })];
      for (const c of changes) lines.push(JSON.stringify(c.change));
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const hash = createHash('sha256');
    // Streams in chunks so a big snapshot reaches the gateway as a stream, like the real API.
    let chunk = '';
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]! + '\n';
      hash.update(line);
      if (f?.kind === 'tamper' && f.mode === 'modified_body' && i === lines.length - 1) line = line.replace(/"/, '"x');
      chunk += line;
      if (chunk.length > 64 * 1024) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        chunk = '';
      }
    }
    const digest = hash.digest('hex');
    if (f?.kind === 'tamper' && f.mode === 'unsigned') return void res.end(chunk);
    let sig = signatureLine(digest, keys.privateKey);
    if (f?.kind === 'tamper' && f.mode === 'bad_signature') sig = signatureLine(digest, generateKeyPairSync('ed25519').privateKey);
    res.end(chunk + sig);
  }

  let server: Server = createServer(handler);
  const wire = (s: Server) => {
    s.keepAliveTimeout = 30_000;
    s.on('connection', (socket: Socket) => {
      if (fault?.kind === 'refuse') {
        takeFault(fault.scope === 'entitlements' ? 'entitlements' : 'events');
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  };
  wire(server);
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  let running = true;

  const stop = async () => {
    if (!running) return;
    running = false;
    for (const w of [...waiters]) w.wake();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  const standIn: CentralStandIn = {
    url: `http://${host}:${port}`,
    port,
    publicKey: keys.publicKey,
    counts: () => ({ ...counts }),
    events: () => [...seen.values()].filter((e): e is CloudEvent => e !== undefined),
    setFault(f) {
      fault = f ? { ...f } : null;
    },
    publishChange(change) {
      seq += 1;
      feed.push({ seq, change });
      if (change.op === 'upsert') entitlements.set(change.record.holder, change.record);
      else if (change.op === 'delete') entitlements.delete(change.holder);
      else {
        const r = entitlements.get(change.holder);
        if (r && change.op === 'block') entitlements.set(change.holder, { ...r, blocked: { reason: change.reason } });
        if (r && change.op === 'consent') entitlements.set(change.holder, { ...r, consent: change.consent });
      }
      for (const w of [...waiters]) w.wake();
      return cursorOf(seq);
    },
    setEntitlements(records) {
      entitlements.clear();
      for (const r of records) entitlements.set(r.holder, r);
      feedEpoch += 1;
      feed = [];
      seq = 0;
    },
    stop,
    async restart() {
      if (running) return;
      server = createServer(handler);
      wire(server);
      await listen(server, port, host);
      running = true;
    },
    close: stop,
  };
  log.info({ url: standIn.url }, 'central stand-in listening');
  return standIn;
}

/** createPublicKey accepts a private KeyObject and returns its public half. */
function derivePublic(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import type { Registry } from 'prom-client';
import type { Clock } from '../../gateway/core/clock.js';
import type { Alarm } from '../../gateway/core/types.js';
import type { Logger } from '../../gateway/core/log.js';
import { GatehouseError, type ErrorCode } from '../../gateway/errors.js';
import { counter, gauge } from '../metrics.js';
import type { Outbox, OutboxRow } from '../outbox/outbox.js';
import { idempotencyKey, type SendResult, type UplinkBatch, type UplinkTransport } from './transport.js';
import { wakeablePause } from '../pause.js';

export interface UplinkStatus {
  lastSuccessAt?: number;
  lastError?: { code: string; message: string };
  deadLetters: number;
  /** Age of the oldest undelivered event (ms), when there is one. */
  lagMs?: number;
  connected: boolean;
  /**
   * Set while the central side refuses the gateway itself (401/403/404: token,
   * certificate or URL); cleared by the next acknowledged batch.
   */
  setupProblem?: SetupProblem;
}

export interface SetupProblem {
  code: ErrorCode;
  status?: number;
  message: string;
  /** Wall-clock ms of the first refusal in this run of refusals. */
  since: number;
  /** Events dead-lettered by these refusals (`gatehouse sync requeue --code GH_UPLINK_AUTH` moves them back). */
  deadLettered: number;
}

export interface BackoffOptions {
  /** First retry delay before jitter. */
  baseMs: number;
  /** Upper bound of any backoff delay. */
  capMs: number;
  /** Upper bound honoured for a Retry-After from the central side. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 60_000, maxRetryAfterMs: 15 * 60_000 };

export interface UplinkOptions {
  outbox: Outbox;
  transport: UplinkTransport;
  batchSize: number;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  onStatus?: (s: UplinkStatus) => void;
  /** Raised (kind `link_down`, source `uplink`) while the central side refuses the gateway's credentials or URL. */
  raiseAlarm?: (a: Alarm) => void;
  backoff?: Partial<BackoffOptions>;
  /** How long an idle uplink sleeps before looking at the outbox again (appends wake it earlier). */
  idleMs?: number;
  /**
   * After sending a batch that was not full, wait this long before the next
   * one so events can gather into it (default 0: send at once). Each batch
   * costs a request, a gzip and two SQLite statements on the event loop; at
   * 1,000 decisions/s, sending at once meant about a hundred small batches a
   * second. Adds at most this much to the central lag; the first event after
   * a quiet spell still goes at once.
   */
  lingerMs?: number;
  /** Randomness for jitter (tests pin it). */
  random?: () => number;
}

export interface Uplink {
  start(): void;
  stop(): Promise<void>;
  status(): UplinkStatus;
  /** Sends until the outbox is empty; rejects with the first failure (tests, demo). */
  drainNow(): Promise<void>;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with
 * "equal jitter" (half fixed, half random) so a fleet of gateways coming back
 * after an outage does not hit the central side in lockstep.
 */
export function backoffDelay(attempt: number, b: Pick<BackoffOptions, 'baseMs' | 'capMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

type Step = 'idle' | 'sent' | 'retry';

/**
 * Moves events from the outbox to the central side, in append order (so per
 * holder in the order they happened), one batch at a time. A batch is
 * retried with the same idempotency key until it is acknowledged; rows are
 * marked delivered only after the acknowledgement. A batch the central side
 * rejects for good is split in halves until the offending event is alone,
 * and that event goes to the dead-letter table with the reason. A refusal of
 * the gateway itself (401/403/404) dead-letters the batch whole, then the
 * uplink backs off and sends one event at a time until one is acknowledged:
 * a wrong token costs the first batch, then one or two events a minute with
 * the default 60 s cap, all of them requeueable (`gatehouse sync requeue`).
 */
export function createUplink(opts: UplinkOptions): Uplink {
  const { outbox, transport, clock, log } = opts;
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const random = opts.random ?? Math.random;
  const idleMs = opts.idleMs ?? 1000;
  const lingerMs = opts.lingerMs ?? 0;
  const m = {
    synced: counter(opts.metrics, 'gatehouse_events_synced_total', 'Events acknowledged by the central side.'),
    batches: counter(opts.metrics, 'gatehouse_uplink_batches_total', 'Uplink batch attempts by result (ok, retry, rejected).', ['result']),
    deadLetters: counter(opts.metrics, 'gatehouse_uplink_dead_letters_total', 'Events moved to the dead-letter table.'),
    errors: counter(opts.metrics, 'gatehouse_errors_total', 'Errors by stable code (see docs/errors.md).', ['code']),
    connected: gauge(opts.metrics, 'gatehouse_uplink_connected', '1 when the last uplink attempt reached the central side.'),
    lag: gauge(opts.metrics, 'gatehouse_uplink_lag_seconds', 'Age of the oldest undelivered event.'),
  };

  const st: { lastSuccessAt?: number; lastError?: { code: ErrorCode; message: string }; connected: boolean } = { connected: false };
  /** Sub-batches left by bisection, sent before anything newer. */
  const queue: OutboxRow[][] = [];
  let current: UplinkBatch | undefined;
  let attempts = 0;
  let running = false;
  let loopDone: Promise<void> | undefined;
  const sleeper = wakeablePause();
  let unsubscribe: (() => void) | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let retryDelay = 0;
  /** Whether the last batch sent was smaller than the batch size (then the loop lingers). */
  let lastBatchPartial = false;
  /** Consecutive refusals of the gateway itself; their backoff grows with this. */
  let setupRefusals = 0;
  let setupProblem: SetupProblem | undefined;

  const status = (): UplinkStatus => {
    const s: UplinkStatus = { deadLetters: outbox.stats().deadLetters, connected: st.connected };
    if (st.lastSuccessAt !== undefined) s.lastSuccessAt = st.lastSuccessAt;
    if (st.lastError) s.lastError = { ...st.lastError };
    if (setupProblem) s.setupProblem = { ...setupProblem };
    const oldest = outbox.peek(1)[0];
    if (oldest) s.lagMs = Math.max(0, clock.now() - oldest.createdAt);
    m.lag.set((s.lagMs ?? 0) / 1000);
    return s;
  };
  const report = () => opts.onStatus?.(status());

  const onFailure = (batch: UplinkBatch, r: Extract<SendResult, { ok: false }>): Step => {
    m.errors.inc({ code: r.code });
    st.lastError = { code: r.code, message: r.message };
    if (r.status !== undefined) st.connected = true;
    else st.connected = false;
    m.connected.set(st.connected ? 1 : 0);
    if (r.retryable) {
      attempts += 1;
      m.batches.inc({ result: 'retry' });
      const fromServer = r.retryAfterMs !== undefined ? Math.min(r.retryAfterMs, backoff.maxRetryAfterMs) : 0;
      retryDelay = Math.max(fromServer, backoffDelay(attempts, backoff, random));
      log.warn({ code: r.code, status: r.status, attempt: attempts, retryInMs: retryDelay, events: batch.rows.length }, `uplink batch failed, retrying: ${r.message}`);
      report();
      return 'retry';
    }
    m.batches.inc({ result: 'rejected' });
    current = undefined;
    attempts = 0;
    if (r.setup) return onSetupRefusal(batch, r);
    if (batch.rows.length > 1) {
      const half = Math.ceil(batch.rows.length / 2);
      queue.unshift(batch.rows.slice(0, half), batch.rows.slice(half));
      log.warn({ code: r.code, status: r.status, events: batch.rows.length }, `central rejected a batch; splitting it to find the offending event: ${r.message}`);
      return 'sent';
    }
    outbox.deadLetter(batch.rows, 'GH_UPLINK_DEAD_LETTER', r.message);
    m.deadLetters.inc(batch.rows.length);
    m.errors.inc({ code: 'GH_UPLINK_DEAD_LETTER' });
    log.error({ code: 'GH_UPLINK_DEAD_LETTER', id: batch.rows[0]?.id, status: r.status }, `central rejected an event for good; moved to the dead-letter table: ${r.message}`);
    report();
    return 'sent';
  };

  /** The central side refused the gateway itself: dead-letter the batch whole, alarm, and back off (growing, capped). */
  const onSetupRefusal = (batch: UplinkBatch, r: Extract<SendResult, { ok: false }>): Step => {
    outbox.deadLetter(batch.rows, r.code, r.message);
    m.deadLetters.inc(batch.rows.length);
    setupRefusals += 1;
    retryDelay = backoffDelay(setupRefusals, backoff, random);
    const first = setupProblem === undefined;
    setupProblem = { code: r.code, message: r.message, since: setupProblem?.since ?? clock.now(), deadLettered: (setupProblem?.deadLettered ?? 0) + batch.rows.length, ...(r.status !== undefined ? { status: r.status } : {}) };
    const advice = 'check central.token, the TLS client certificate and central.url; once fixed, run `gatehouse sync requeue --code GH_UPLINK_AUTH` with the gateway stopped';
    log.error(
      { code: r.code, status: r.status, events: batch.rows.length, deadLettered: setupProblem.deadLettered, retryInMs: retryDelay },
      `central refused this gateway (${r.message}); the batch was dead-lettered and the uplink sends one event per backoff until it is accepted: ${advice}`,
    );
    if (first) {
      opts.raiseAlarm?.({ kind: 'link_down', source: 'uplink', code: r.code, message: `central refuses this gateway (${r.message}): ${advice}`, at: clock.now(), active: true, ...(r.status !== undefined ? { details: { status: r.status } } : {}) });
    }
    report();
    return 'retry';
  };

  /** One send attempt; serialised so drainNow and the background loop never send the same rows twice at once. */
  const step = (): Promise<Step> => {
    const run = async (): Promise<Step> => {
      if (!current) {
        // While the central side refuses the gateway, one event per attempt: each refusal dead-letters what it was sent.
        const limit = setupProblem ? 1 : opts.batchSize;
        let rows = queue.shift() ?? outbox.peek(limit);
        if (rows.length > limit) {
          queue.unshift(rows.slice(limit));
          rows = rows.slice(0, limit);
        }
        if (rows.length === 0) return 'idle';
        current = { rows, key: idempotencyKey(rows) };
        attempts = 0;
      }
      const batch = current;
      let r: SendResult;
      try {
        r = await transport.send(batch);
      } catch (err) {
        r = { ok: false, retryable: true, code: 'GH_INTERNAL', message: (err as Error).message };
      }
      if (!r.ok) return onFailure(batch, r);
      outbox.markDelivered(batch.rows);
      // Halves left by a bisection go at once: they are not waiting for company.
      lastBatchPartial = batch.rows.length < opts.batchSize && queue.length === 0;
      current = undefined;
      attempts = 0;
      m.synced.inc(batch.rows.length);
      m.batches.inc({ result: 'ok' });
      const recovered = !st.connected || st.lastError !== undefined;
      st.connected = true;
      st.lastSuccessAt = clock.now();
      delete st.lastError;
      m.connected.set(1);
      if (setupProblem) {
        log.warn({ deadLettered: setupProblem.deadLettered, since: setupProblem.since }, 'central accepts this gateway again; events dead-lettered while it refused can be requeued with `gatehouse sync requeue --code GH_UPLINK_AUTH`');
        opts.raiseAlarm?.({ kind: 'link_down', source: 'uplink', message: 'central accepts this gateway again', at: clock.now(), active: false });
        setupProblem = undefined;
        setupRefusals = 0;
      }
      if (recovered) {
        log.info({ events: batch.rows.length }, 'uplink delivering');
        report();
      }
      return 'sent';
    };
    const p = chain.then(run);
    chain = p.catch(() => undefined);
    return p;
  };

  const pause = sleeper.pause;

  const loop = async () => {
    while (running) {
      let s: Step;
      try {
        s = await step();
      } catch (err) {
        log.error({ code: 'GH_INTERNAL', err }, 'uplink step failed');
        m.errors.inc({ code: 'GH_INTERNAL' });
        retryDelay = backoffDelay(++attempts, backoff, random);
        s = 'retry';
      }
      if (!running) break;
      if (s === 'idle') await pause(idleMs);
      else if (s === 'retry') await pauseUntilStop(retryDelay);
      else if (lingerMs > 0 && lastBatchPartial) await pauseUntilStop(lingerMs);
    }
  };

  /** Sleeps `ms`. Appends must not cut a backoff or a linger short: only stop() does. */
  const pauseUntilStop = async (ms: number) => {
    const unsub = unsubscribe;
    unsubscribe = undefined;
    unsub?.();
    await pause(ms);
    if (running) unsubscribe = outbox.onAppend(() => sleeper.wake());
  };

  return {
    start() {
      if (running) return;
      running = true;
      unsubscribe = outbox.onAppend(() => sleeper.wake());
      loopDone = loop();
    },
    async stop() {
      running = false;
      unsubscribe?.();
      unsubscribe = undefined;
      sleeper.wake();
      await loopDone;
      await chain;
    },
    status,
    async drainNow() {
      for (;;) {
        const s = await step();
        if (s === 'idle') return;
        if (s === 'retry') throw new GatehouseError(st.lastError?.code ?? 'GH_UPLINK_NETWORK', `uplink could not drain: ${st.lastError?.message ?? 'unknown error'}`);
      }
    },
  };
}

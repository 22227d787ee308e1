import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../gateway/core/log.js';
import type { Alarm } from '../../gateway/core/types.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { openOutbox, type Outbox } from '../outbox/outbox.js';
import { backoffDelay, createUplink, type UplinkStatus } from './uplink.js';
import type { SendResult, UplinkBatch, UplinkTransport } from './transport.js';

function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, monotonic: () => t, isSynced: () => true, advance: (ms: number) => (t += ms) };
}

function ev(i: number, subject = 'h1'): CloudEvent {
  return { specversion: '1.0', id: `ev-${String(i).padStart(6, '0')}`, source: 'gatehouse://gw1/t', type: 'io.gatehouse.test', subject, time: new Date(0).toISOString(), datacontenttype: 'application/json', data: { i } };
}

/** A transport whose answers the test scripts; records every batch it was handed. */
function scriptedTransport(answer: (b: UplinkBatch, call: number) => SendResult) {
  const sent: UplinkBatch[] = [];
  const t: UplinkTransport & { sent: UplinkBatch[] } = {
    name: 'fake',
    sent,
    connected: () => true,
    send: async (b) => {
      sent.push(b);
      return answer(b, sent.length);
    },
    close: async () => undefined,
  };
  return t;
}

describe('uplink', () => {
  let dir: string;
  let outbox: Outbox;
  let clock: ReturnType<typeof fakeClock>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-uplink-'));
    clock = fakeClock();
    outbox = openOutbox({ path: join(dir, 'o.db'), maxBytes: 1e8, maxRows: 1e6, retentionHours: 1, groupCommitMs: 0, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fill = async (n: number) => {
    for (let i = 0; i < n; i++) await outbox.append(ev(i, `h${i % 3}`), 'access');
  };
  const make = (transport: UplinkTransport, extra: { onStatus?: (s: UplinkStatus) => void; batchSize?: number } = {}) =>
    createUplink({ outbox, transport, batchSize: extra.batchSize ?? 4, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 10, capMs: 40 }, random: () => 0, ...(extra.onStatus ? { onStatus: extra.onStatus } : {}) });

  it('delivers every event in append order and marks rows delivered only after the ack', async () => {
    await fill(10);
    const t = scriptedTransport(() => ({ ok: true }));
    const up = make(t);
    await up.drainNow();
    expect(t.sent.flatMap((b) => b.rows.map((r) => r.id))).toEqual(Array.from({ length: 10 }, (_, i) => ev(i).id));
    expect(t.sent.map((b) => b.rows.length)).toEqual([4, 4, 2]);
    expect(outbox.depth()).toBe(0);
    expect(up.status()).toMatchObject({ connected: true, lastSuccessAt: clock.now(), deadLetters: 0 });
    expect(up.status().lagMs).toBeUndefined();
  });

  it('retries the very same batch with the same idempotency key after a retryable failure', async () => {
    await fill(3);
    const t = scriptedTransport((_, call) => (call === 1 ? { ok: false, retryable: true, code: 'GH_UPLINK_NETWORK', message: 'ECONNREFUSED' } : { ok: true }));
    const up = make(t);
    await expect(up.drainNow()).rejects.toMatchObject({ code: 'GH_UPLINK_NETWORK' });
    expect(outbox.depth()).toBe(3);
    expect(up.status()).toMatchObject({ connected: false, lastError: { code: 'GH_UPLINK_NETWORK', message: 'ECONNREFUSED' } });
    await outbox.append(ev(99), 'access');
    await up.drainNow();
    expect(t.sent[1]!.key).toBe(t.sent[0]!.key);
    expect(t.sent[1]!.rows.map((r) => r.id)).toEqual(t.sent[0]!.rows.map((r) => r.id));
    expect(up.status().lastError).toBeUndefined();
    expect(outbox.depth()).toBe(0);
  });

  it('splits a permanently rejected batch and dead-letters only the offending event, keeping the order of the rest', async () => {
    await fill(8);
    const bad = ev(5).id;
    const t = scriptedTransport((b) =>
      b.rows.some((r) => r.id === bad) ? { ok: false, retryable: false, code: 'GH_UPLINK_HTTP', status: 422, message: 'HTTP 422: bad event' } : { ok: true },
    );
    const statuses: UplinkStatus[] = [];
    const up = make(t, { batchSize: 8, onStatus: (s) => statuses.push(s) });
    await up.drainNow();
    const delivered = t.sent.filter((b) => !b.rows.some((r) => r.id === bad)).flatMap((b) => b.rows.map((r) => r.id));
    expect(delivered).toEqual([0, 1, 2, 3, 4, 6, 7].map((i) => ev(i).id));
    expect(outbox.deadLetters()).toEqual([expect.objectContaining({ id: bad, code: 'GH_UPLINK_DEAD_LETTER', reason: 'HTTP 422: bad event' })]);
    expect(up.status().deadLetters).toBe(1);
    expect(statuses.some((s) => s.deadLetters === 1)).toBe(true);
    expect(outbox.depth()).toBe(0);
  });

  it('waits at least the Retry-After the central side asked for before the next attempt', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await fill(1);
    const t = scriptedTransport((_, call) => (call === 1 ? { ok: false, retryable: true, code: 'GH_UPLINK_HTTP', status: 503, message: 'HTTP 503', retryAfterMs: 5000 } : { ok: true }));
    const up = make(t);
    up.start();
    await vi.advanceTimersByTimeAsync(4900);
    expect(t.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.sent).toHaveLength(2);
    expect(outbox.depth()).toBe(0);
    await up.stop();
  });

  it('wakes on append when idle and stops promptly in the middle of a backoff', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const t = scriptedTransport(() => ({ ok: false, retryable: true, code: 'GH_UPLINK_NETWORK', message: 'down' }));
    const up = createUplink({ outbox, transport: t, batchSize: 4, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 60_000, capMs: 60_000 }, idleMs: 3_600_000 });
    up.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(t.sent).toHaveLength(0);
    await outbox.append(ev(1), 'access');
    await vi.advanceTimersByTimeAsync(10);
    expect(t.sent).toHaveLength(1);
    await up.stop();
    expect(t.sent).toHaveLength(1);
  });

  it('after a batch that was not full, lingers so events gather; full batches and the first event after a quiet spell go at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const t = scriptedTransport(() => ({ ok: true }));
    const up = createUplink({ outbox, transport: t, batchSize: 4, lingerMs: 1000, clock, log: silentLogger(), metrics: new Registry(), idleMs: 3_600_000 });
    up.start();
    await outbox.append(ev(0), 'access');
    await vi.advanceTimersByTimeAsync(10);
    expect(t.sent.map((b) => b.rows.length)).toEqual([1]);
    // Appends during the linger do not cut it short.
    for (const i of [1, 2]) await outbox.append(ev(i), 'access');
    await vi.advanceTimersByTimeAsync(900);
    expect(t.sent.map((b) => b.rows.length)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.sent.map((b) => b.rows.length)).toEqual([1, 2]);
    for (let i = 3; i < 12; i++) await outbox.append(ev(i), 'access');
    await vi.advanceTimersByTimeAsync(1000);
    // Two full batches back to back, then the rest; then it lingers again.
    expect(t.sent.map((b) => b.rows.length)).toEqual([1, 2, 4, 4, 1]);
    expect(t.sent.flatMap((b) => b.rows.map((r) => r.id))).toEqual(Array.from({ length: 12 }, (_, i) => ev(i).id));
    // stop() ends a linger at once.
    await up.stop();
    expect(outbox.depth()).toBe(0);
  });

  it('does not linger between the halves of a rejected batch it is bisecting', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await fill(8);
    const bad = ev(5).id;
    const t = scriptedTransport((b) => (b.rows.some((r) => r.id === bad) ? { ok: false, retryable: false, code: 'GH_UPLINK_HTTP', status: 422, message: 'HTTP 422' } : { ok: true }));
    const up = createUplink({ outbox, transport: t, batchSize: 8, lingerMs: 10_000, clock, log: silentLogger(), metrics: new Registry(), idleMs: 3_600_000 });
    up.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(outbox.depth()).toBe(0);
    expect(outbox.deadLetters().map((d) => d.id)).toEqual([bad]);
    await up.stop();
  });

  it('on a refusal of the gateway itself (401) dead-letters the batch whole, then backs off (growing, capped) and sends one event at a time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await fill(10);
    let refuse = true;
    const t = scriptedTransport(() => (refuse ? { ok: false, retryable: false, setup: true, code: 'GH_UPLINK_AUTH', status: 401, message: 'HTTP 401: unknown token' } : { ok: true }));
    const alarms: Alarm[] = [];
    // baseMs 10, capMs 40, no jitter (random 0): waits of 5, 10, 20, 20 ms.
    const up = createUplink({ outbox, transport: t, batchSize: 4, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 10, capMs: 40 }, random: () => 0, raiseAlarm: (a) => alarms.push(a) });
    up.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.sent.map((b) => b.rows.length)).toEqual([4]);
    const sendsAt: number[] = [];
    for (let ms = 1; ms <= 55; ms++) {
      const before = t.sent.length;
      await vi.advanceTimersByTimeAsync(1);
      if (t.sent.length > before) sendsAt.push(ms);
    }
    expect(sendsAt).toEqual([5, 15, 35, 55]);
    expect(t.sent.map((b) => b.rows.length)).toEqual([4, 1, 1, 1, 1]);
    expect(outbox.deadLetters(100).map((d) => d.code)).toEqual(Array(8).fill('GH_UPLINK_AUTH'));
    expect(up.status()).toMatchObject({ lastError: { code: 'GH_UPLINK_AUTH' }, setupProblem: { code: 'GH_UPLINK_AUTH', status: 401, deadLettered: 8 } });
    // One alarm for the whole run of refusals; appends do not cut the backoff short.
    expect(alarms).toEqual([expect.objectContaining({ kind: 'link_down', source: 'uplink', code: 'GH_UPLINK_AUTH', active: true })]);
    await outbox.append(ev(50), 'access');
    await vi.advanceTimersByTimeAsync(5);
    expect(t.sent).toHaveLength(5);

    refuse = false;
    await vi.advanceTimersByTimeAsync(20);
    expect(outbox.depth()).toBe(0);
    expect(t.sent.slice(5).map((b) => b.rows.length)).toEqual([1, 2]);
    expect(up.status().setupProblem).toBeUndefined();
    expect(alarms.at(-1)).toMatchObject({ kind: 'link_down', source: 'uplink', active: false });
    await up.stop();
  });

  it('treats a transport that throws as a retryable internal failure, never as an ack', async () => {
    await fill(1);
    const t: UplinkTransport = { name: 'throws', connected: () => false, send: () => Promise.reject(new Error('boom')), close: async () => undefined };
    const up = make(t);
    await expect(up.drainNow()).rejects.toMatchObject({ code: 'GH_INTERNAL' });
    expect(outbox.depth()).toBe(1);
  });

  it('reports the age of the oldest undelivered event as lag', async () => {
    await fill(1);
    clock.advance(2500);
    const up = make(scriptedTransport(() => ({ ok: true })));
    expect(up.status().lagMs).toBe(2500);
  });

  it('delivers exactly the good events, once each and in append order, and dead-letters exactly the bad ones, whatever fails when (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.uniqueArray(fc.nat(39)),
        fc.array(fc.boolean(), { maxLength: 30 }),
        async (n, batchSize, badIdx, flaky) => {
          const sub = mkdtempSync(join(dir, 'p-'));
          const box = openOutbox({ path: join(sub, 'o.db'), maxBytes: 1e8, maxRows: 1e6, retentionHours: 1, groupCommitMs: 0, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
          for (let i = 0; i < n; i++) await box.append(ev(i), 'access');
          const bad = new Set(badIdx.filter((i) => i < n).map((i) => ev(i).id));
          const delivered: string[] = [];
          let call = 0;
          const t = scriptedTransport((b) => {
            // The first calls fail at random, as a link that comes and goes; then the link holds.
            if (flaky[call++] === true) return { ok: false, retryable: true, code: 'GH_UPLINK_NETWORK', message: 'flaky' };
            if (b.rows.some((r) => bad.has(r.id))) return { ok: false, retryable: false, code: 'GH_UPLINK_HTTP', status: 400, message: 'bad' };
            delivered.push(...b.rows.map((r) => r.id));
            return { ok: true };
          });
          const up = createUplink({ outbox: box, transport: t, batchSize, clock, log: silentLogger(), metrics: new Registry(), random: () => 0 });
          for (let guard = 0; guard < 10_000 && box.depth() > 0; guard++) await up.drainNow().catch(() => undefined);
          const expected = Array.from({ length: n }, (_, i) => ev(i).id).filter((id) => !bad.has(id));
          expect(delivered).toEqual(expected);
          expect(box.deadLetters(1000).map((d) => d.id).sort()).toEqual([...bad].sort());
          await box.close();
        },
      ),
      { numRuns: 30 },
    );
  });

  it('backs off exponentially within [ceiling/2, ceiling] and never beyond the cap (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 600_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, baseMs, capMs, r) => {
        const d = backoffDelay(attempt, { baseMs, capMs }, () => r);
        const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(Math.ceil(ceiling));
      }),
    );
    expect(backoffDelay(1, { baseMs: 100, capMs: 1000 }, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffDelay(4, { baseMs: 100, capMs: 1000 }, () => 0)).toBe(400);
  });
});

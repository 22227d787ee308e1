import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../gateway/errors.js';
import type { OutboxRow } from '../outbox/outbox.js';

/** One batch on its way to the central side. `key` is the same on every retry of the same rows. */
export interface UplinkBatch {
  rows: readonly OutboxRow[];
  key: string;
}

/**
 * What a transport reports. `retryable: false` means the central side
 * rejected this batch for good (the uplink bisects it down to the offending
 * event and dead-letters that one); anything else is retried with backoff.
 * `setup: true` (with `retryable: false`) means the central side refused the
 * gateway itself, its credentials or URL: the uplink dead-letters the whole
 * batch and backs off before the next one.
 */
export type SendResult =
  | { ok: true; duplicates?: number }
  | { ok: false; retryable: boolean; setup?: boolean; code: ErrorCode; message: string; status?: number; retryAfterMs?: number };

export interface UplinkTransport {
  readonly name: string;
  send(batch: UplinkBatch): Promise<SendResult>;
  /** True while the transport believes it can reach the central side. */
  connected(): boolean;
  close(): Promise<void>;
}

/**
 * A CloudEvents JSON batch (`application/cloudevents-batch+json`) built from
 * the stored bodies without re-serialising them: each row body is the exact
 * JSON appended to the outbox.
 */
export function batchBody(rows: readonly OutboxRow[]): string {
  return '[' + rows.map((r) => r.body).join(',') + ']';
}

/**
 * Idempotency key of a batch: a digest of its event ids, so a retry of the
 * same rows (even after a restart) carries the same key.
 */
export function idempotencyKey(rows: readonly OutboxRow[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(r.id).update('\n');
  return h.digest('base64url').slice(0, 32);
}

/** Parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

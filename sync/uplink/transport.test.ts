import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRetryableStatus, isSetupStatus } from './http.js';
import { batchBody, idempotencyKey, parseRetryAfter } from './transport.js';

const row = (id: string, body = `{"id":"${id}"}`) => ({ seq: 1, id, body, createdAt: 0 });

describe('uplink transport helpers', () => {
  it('gives the same idempotency key for the same ids and different keys for different batches (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 20 }), (ids) => {
        const key = idempotencyKey(ids.map((id) => row(id)));
        expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(idempotencyKey(ids.map((id) => row(id, 'other body')))).toBe(key);
        if (ids.length > 1) expect(idempotencyKey(ids.slice(1).map((id) => row(id)))).not.toBe(key);
      }),
    );
  });

  it('builds a JSON array from stored bodies without re-serialising them', () => {
    expect(JSON.parse(batchBody([row('a'), row('b')]))).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(batchBody([])).toBe('[]');
  });

  it('reads Retry-After as delay-seconds or an HTTP date, and ignores anything else (property)', () => {
    const now = Date.parse('2026-11-22T06:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(['3'], now)).toBe(3000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 06:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 05:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    fc.assert(
      fc.property(fc.string(), (v) => {
        const r = parseRetryAfter(v, now);
        expect(r === undefined || (Number.isFinite(r) && r >= 0)).toBe(true);
      }),
    );
  });

  it('retries 5xx, 408 and 429 and gives up on every other 4xx, set-up errors (401/403/404) included (issue #8)', () => {
    for (const s of [500, 502, 503, 408, 429]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 413, 415, 422]) expect(isRetryableStatus(s)).toBe(false);
    expect([400, 401, 403, 404, 408, 422, 429, 500].filter(isSetupStatus)).toEqual([401, 403, 404]);
  });
});

import { promisify } from 'node:util';
import { gzip, constants as zlib } from 'node:zlib';
import { Agent, request } from 'undici';
import { batchBody, parseRetryAfter, type SendResult, type UplinkBatch, type UplinkTransport } from './transport.js';

const gzipAsync = promisify(gzip);

export interface HttpTransportOptions {
  /** Base URL of the central API, e.g. `https://crm.example.com`. */
  url: string;
  token?: string;
  /** mTLS and/or a private CA. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  timeoutMs: number;
  gatewayId: string;
  /** Wall clock for Retry-After dates; defaults to Date.now. */
  now?: () => number;
}

/**
 * HTTP uplink (docs/sync.md "POST events"): one keep-alive connection via
 * undici (which sets TCP_NODELAY on its sockets, so small acks do not wait
 * ~40 ms for Nagle), gzip bodies, bearer token or mTLS.
 */
export function httpTransport(opts: HttpTransportOptions): UplinkTransport {
  const endpoint = new URL(`v1/gateways/${encodeURIComponent(opts.gatewayId)}/events`, opts.url.endsWith('/') ? opts.url : opts.url + '/');
  const agent = new Agent({
    connections: 2,
    keepAliveTimeout: 30_000,
    connect: { timeout: opts.timeoutMs, ...(opts.tls ?? {}) },
  });
  const now = opts.now ?? Date.now;
  let up = false;

  return {
    name: 'http',
    connected: () => up,
    async send(batch: UplinkBatch): Promise<SendResult> {
      // Level 3: most of the size win of the default level at a third of the CPU (bench drain).
      const body = await gzipAsync(Buffer.from(batchBody(batch.rows)), { level: 3, strategy: zlib.Z_DEFAULT_STRATEGY });
      const headers: Record<string, string> = {
        'content-type': 'application/cloudevents-batch+json; charset=utf-8',
        'content-encoding': 'gzip',
        'idempotency-key': batch.key,
      };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let status: number;
      let text: string;
      let retryAfter: string | string[] | undefined;
      try {
        const res = await request(endpoint, { method: 'POST', headers, body, dispatcher: agent, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs });
        status = res.statusCode;
        retryAfter = res.headers['retry-after'];
        text = await res.body.text();
      } catch (err) {
        up = false;
        return { ok: false, retryable: true, code: 'GH_UPLINK_NETWORK', message: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}` };
      }
      up = true;
      if (status >= 200 && status < 300) {
        // The ack must name this batch: a stray or replayed response for another batch is not an ack.
        let ack: { key?: unknown; duplicates?: unknown };
        try {
          ack = JSON.parse(text) as { key?: unknown; duplicates?: unknown };
        } catch {
          return { ok: false, retryable: true, code: 'GH_UPLINK_HTTP', status, message: `HTTP ${status} with a body that is not JSON` };
        }
        if (ack.key !== batch.key) return { ok: false, retryable: true, code: 'GH_UPLINK_HTTP', status, message: `HTTP ${status} acknowledged another batch (${String(ack.key)})` };
        return { ok: true, duplicates: typeof ack.duplicates === 'number' ? ack.duplicates : 0 };
      }
      const message = `HTTP ${status}: ${text.slice(0, 200)}`;
      if (isSetupStatus(status)) return { ok: false, retryable: false, setup: true, code: 'GH_UPLINK_AUTH', status, message };
      const retryAfterMs = parseRetryAfter(retryAfter, now());
      return { ok: false, retryable: isRetryableStatus(status), code: 'GH_UPLINK_HTTP', status, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    },
    async close(): Promise<void> {
      up = false;
      await agent.close();
    },
  };
}

/**
 * 5xx, 408 and 429 are retried (issue #8); so is anything below 400 that is
 * not a 2xx. Every other 4xx moves the batch to the dead-letter table, never
 * an endless retry loop: 401, 403 and 404 included (see isSetupStatus).
 */
export function isRetryableStatus(status: number): boolean {
  if (status >= 500 || status < 400) return true;
  return status === 408 || status === 429;
}

/**
 * 401, 403 and 404 say the gateway's token, certificate or URL is wrong, not
 * that this batch is: the uplink dead-letters the batch whole (no bisection)
 * and backs off before the next one, so a rotated token does not empty the
 * outbox in seconds (docs/sync.md "Authentication").
 */
export function isSetupStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 404;
}

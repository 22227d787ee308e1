import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Health } from '../health/health.js';
import type { Logger } from '../core/log.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  health: Health;
  /** JSON for /api/status (the status page reads the same). */
  status: () => unknown;
  /** Extra routes (the status page); return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** When set, every route but /healthz needs `Authorization: Bearer <token>` or `?token=`. */
  token?: string;
  log: Logger;
}

export interface AdminServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * The local admin port: `/healthz` (200 ok, 503 with reasons), `/metrics`
 * (Prometheus text), `/api/status` (JSON). Bound to 127.0.0.1 unless the
 * config binds it elsewhere, and then a token is required.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      options.log.error({ err }, 'admin request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  server.on('connection', (socket) => socket.setNoDelay(true));

  const authorised = (req: IncomingMessage): boolean => {
    if (!options.token) return true;
    const url = new URL(req.url ?? '/', 'http://x');
    const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? url.searchParams.get('token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(options.token);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz') {
      const snap = options.health.snapshot();
      res.writeHead(snap.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(snap) + '\n');
      return;
    }
    if (!authorised(req)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
      res.end('token required\n');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(await options.registry.metrics());
      return;
    }
    if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(options.status()) + '\n');
      return;
    }
    if (options.routes?.(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

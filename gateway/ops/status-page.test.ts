import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Script } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { renderStatusPage, statusRoutes } from './status-page.js';

describe('renderStatusPage', () => {
  it('is one self-contained document: no external script, style, font or image', () => {
    const html = renderStatusPage();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    expect(html).not.toMatch(/url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('carries a script that compiles and polls /api/status at the given interval', () => {
    const html = renderStatusPage({ pollMs: 2500 });
    const code = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
    expect(() => new Script(code)).not.toThrow();
    expect(code).toContain("fetch('/api/status'");
    expect(code).toContain('var POLL_MS = 2500;');
  });

  it('never inserts status text as HTML', () => {
    const code = /<script>([\s\S]*)<\/script>/.exec(renderStatusPage())?.[1] ?? '';
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});

describe('statusRoutes', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function serve(): Promise<number> {
    const routes = statusRoutes({ pollMs: 1000 });
    server = createServer((req, res) => {
      if (!routes(req, res)) {
        res.writeHead(404);
        res.end('next');
      }
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  }

  function fetchRaw(port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves the page on / and /status with a strict content security policy', async () => {
    const port = await serve();
    for (const path of ['/', '/status', '/status?token=abc']) {
      const r = await fetchRaw(port, 'GET', path);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(String(r.headers['content-security-policy'])).toContain("default-src 'none'");
      expect(r.body).toContain('<title>Gatehouse status</title>');
    }
  });

  it('answers HEAD without a body, refuses other methods, and leaves other paths to the next handler', async () => {
    const port = await serve();
    const head = await fetchRaw(port, 'HEAD', '/');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await fetchRaw(port, 'POST', '/status')).status).toBe(405);
    const other = await fetchRaw(port, 'GET', '/elsewhere');
    expect([other.status, other.body]).toEqual([404, 'next']);
  });
});

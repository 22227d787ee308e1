/**
 * `gatehouse bench drain --events 1000000 --json` (issue #8): a backlog of N
 * events in the real outbox drained over loopback HTTP to the central
 * stand-in, which runs in its own process so its memory does not count
 * against the gateway's RSS.
 *
 * Options: events (default 1000000), batchSize (1000), dir (temp).
 * Result: { events, events_per_s, lost, duplicates_at_central, rss_mb (peak of the
 * whole run), drain_rss_mb, fill_rss_mb, seconds, fill_s }.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import type { CentralCounts } from '../central/standin.js';
import { openOutbox } from '../../sync/outbox/outbox.js';
import { httpTransport } from '../../sync/uplink/http.js';
import { createUplink } from '../../sync/uplink/uplink.js';

const CENTRAL_MAIN = fileURLToPath(new URL('../central/main.ts', import.meta.url));

export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const events = Number(options.events ?? 1_000_000);
  const batchSize = Number(options.batchSize ?? 1000);
  const dir = typeof options.dir === 'string' ? options.dir : mkdtempSync(join(tmpdir(), 'gh-bench-drain-'));
  let rssMax = process.memoryUsage().rss;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);

  const child = spawn(process.execPath, ['--import', 'tsx', CENTRAL_MAIN, '--no-keep-events'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { url: string }).url);
      });
      child.once('exit', (code) => reject(new Error(`central stand-in exited with ${code}`)));
    });

    const clock = systemClock({ assumeSynced: true });
    const outbox = openOutbox({ path: join(dir, 'outbox.db'), maxBytes: 8 * 1024 ** 3, maxRows: 50_000_000, retentionHours: 24, groupCommitMs: 20, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
    const make = eventFactory('bench');
    const fillStart = performance.now();
    const chunk = 4096;
    for (let i = 0; i < events; i += chunk) {
      const n = Math.min(chunk, events - i);
      await Promise.all(
        Array.from({ length: n }, (_, j) => outbox.append(make({ type: 'io.gatehouse.access.granted', origin: 'lane1', subject: `holder-${(i + j) % 50_000}`, data: { lane: 'lane1', zone: 'main', reason: 'ok', n: i + j } }), 'access')),
      );
    }
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const fillRss = rssMax;
    rssMax = process.memoryUsage().rss;

    const transport = httpTransport({ url, timeoutMs: 30_000, gatewayId: 'bench' });
    const uplink = createUplink({ outbox, transport, batchSize, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 50, capMs: 1000 } });
    const start = performance.now();
    while (outbox.depth() > 0) {
      await uplink.drainNow().catch(() => new Promise((r) => setTimeout(r, 100)));
    }
    const seconds = (performance.now() - start) / 1000;
    await transport.close();
    await outbox.close();

    const res = await request(`${url}/_standin/counts`);
    const counts = (await res.body.json()) as CentralCounts;
    clearInterval(sampler);
    return {
      events,
      events_per_s: Math.round(events / seconds),
      lost: events - counts.unique,
      duplicates_at_central: counts.duplicates,
      rss_mb: Math.round(Math.max(rssMax, fillRss) / 1024 / 1024),
      drain_rss_mb: Math.round(rssMax / 1024 / 1024),
      fill_rss_mb: Math.round(fillRss / 1024 / 1024),
      seconds: Number(seconds.toFixed(2)),
      fill_s: Number(fillSeconds.toFixed(2)),
      batch_size: batchSize,
    };
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    if (typeof options.dir !== 'string') rmSync(dir, { recursive: true, force: true });
  }
}

const invokedDirectly = process.argv[1] !== undefined && /scripts[\\/]bench[\\/]drain\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  const events = process.argv[2] ? Number(process.argv[2]) : undefined;
  process.stdout.write(JSON.stringify(await run(events ? { events } : {})) + '\n');
}

/**
 * `gatehouse bench outbox --json` (issue #8): durable appends per second
 * through the real outbox (WAL, synchronous=FULL, group commit) and the p99
 * latency of one append, from the call to "durable on disk".
 *
 * Options: events (default 100000), groupCommitMs (5), concurrency (appends
 * in flight at once, like busy lanes and sensors; default 1024), dir (temp).
 * Throughput is bounded by fsync latency x group size: one fsync per group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import { openOutbox } from '../../sync/outbox/outbox.js';

export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const events = Number(options.events ?? 100_000);
  const groupCommitMs = Number(options.groupCommitMs ?? 5);
  const concurrency = Number(options.concurrency ?? 1024);
  const dir = typeof options.dir === 'string' ? options.dir : mkdtempSync(join(tmpdir(), 'gh-bench-outbox-'));
  const outbox = openOutbox({
    path: join(dir, 'outbox.db'),
    maxBytes: 4 * 1024 ** 3,
    maxRows: 50_000_000,
    retentionHours: 24,
    groupCommitMs,
    clock: systemClock({ assumeSynced: true }),
    log: silentLogger(),
    metrics: new Registry(),
    raiseAlarm: () => undefined,
  });
  const make = eventFactory('bench');
  const latencies = new Float64Array(events);
  let next = 0;
  const worker = async () => {
    while (next < events) {
      const i = next++;
      const e = make({ type: 'io.gatehouse.access.granted', origin: 'lane1', subject: `holder-${i % 5000}`, data: { lane: 'lane1', zone: 'main', reason: 'ok', i } });
      const t0 = performance.now();
      await outbox.append(e, 'access');
      latencies[i] = performance.now() - t0;
    }
  };
  // What a decision would feel: the longest the event loop went without turning while appends ran.
  let lastTick = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - lastTick);
    lastTick = now;
  }, 1);
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  clearInterval(ticker);
  const commitMaxMs = outbox.stats().commitMaxMs;
  await outbox.close();
  if (typeof options.dir !== 'string') rmSync(dir, { recursive: true, force: true });
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const pct = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!.toFixed(2));
  return {
    events,
    events_per_s: Math.round(events / seconds),
    append_p50_ms: pct(0.5),
    append_p99_ms: pct(0.99),
    loop_max_gap_ms: Number(maxGap.toFixed(1)),
    commit_max_ms: commitMaxMs,
    group_commit_ms: groupCommitMs,
    concurrency,
    seconds: Number(seconds.toFixed(2)),
  };
}

const invokedDirectly = process.argv[1] !== undefined && /scripts[\\/]bench[\\/]outbox\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  const events = process.argv[2] ? Number(process.argv[2]) : undefined;
  process.stdout.write(JSON.stringify(await run(events ? { events } : {})) + '\n');
}

import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Alarm } from '../../gateway/core/types.js';
import { eventFactory, type EventPriority } from '../../gateway/events/cloudevent.js';
import { isGatehouseError } from '../../gateway/errors.js';
import { openOutbox, type OutboxOptions } from '../../sync/outbox/outbox.js';

describe('outbox storage faults', () => {
  let dir: string;
  let alarms: Alarm[];
  const make = eventFactory('gw1');
  const event = (n: number, pad = 0) => make({ type: 'io.gatehouse.test', origin: 'lane1', data: { n, pad: 'x'.repeat(pad) } });
  const options = (over: Partial<OutboxOptions> = {}): OutboxOptions => ({
    path: join(dir, 'outbox.db'),
    maxBytes: 1e8,
    maxRows: 1e6,
    retentionHours: 1,
    groupCommitMs: 1,
    clock: systemClock({ assumeSynced: true }),
    log: silentLogger(),
    metrics: new Registry(),
    raiseAlarm: (a) => alarms.push(a),
    ...over,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-storage-'));
    alarms = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fillAndClose = async () => {
    const box = openOutbox(options());
    await Promise.all(Array.from({ length: 2000 }, (_, i) => box.append(event(i, 100), 'access')));
    await box.close();
  };

  const damages: Array<[string, (path: string) => void]> = [
    ['garbage over its pages', (p) => {
      const fd = openSync(p, 'r+');
      writeSync(fd, Buffer.alloc(16_384, 0xa5), 0, 16_384, 4096);
      closeSync(fd);
    }],
    ['truncated to half', (p) => truncateSync(p, Math.floor(statSync(p).size / 2))],
    ['truncated inside its header', (p) => truncateSync(p, 50)],
    ['not a database at all', (p) => {
      const fd = openSync(p, 'w');
      writeSync(fd, 'this is not sqlite '.repeat(500));
      closeSync(fd);
    }],
  ];
  for (const [name, damage] of damages) {
    it(`detects an outbox file with ${name}, moves it aside, raises an alarm and keeps accepting appends`, async () => {
      await fillAndClose();
      damage(join(dir, 'outbox.db'));
      const box = openOutbox(options());
      const stats = box.stats();
      expect(stats.movedAside).toMatch(/outbox\.db\.corrupt-/);
      expect(existsSync(stats.movedAside!)).toBe(true);
      expect(alarms).toEqual([expect.objectContaining({ kind: 'cache_corrupt', code: 'GH_STORE_CORRUPT', source: 'outbox', active: true })]);
      await box.append(event(1), 'access');
      expect(box.depth()).toBe(1);
      await box.close();
      expect(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length).toBeGreaterThanOrEqual(1);
    });
  }

  it('sheds by priority to stay inside a small byte budget and raises outbox_full, never exceeding the budget', async () => {
    const maxBytes = 256 * 1024;
    const box = openOutbox(options({ maxBytes }));
    const priorities: EventPriority[] = ['telemetry', 'presence', 'engagement', 'access', 'alarm'];
    const results = await Promise.all(
      Array.from({ length: 1500 }, (_, i) =>
        box.append(event(i, 80), priorities[i % 5]!).then(
          () => 'ok',
          (e: unknown) => (isGatehouseError(e) ? e.code : 'other'),
        ),
      ),
    );
    const s = box.stats();
    expect(s.bytes).toBeLessThanOrEqual(maxBytes);
    expect(results.filter((r) => r === 'other')).toEqual([]);
    expect(s.shedByPriority.telemetry).toBeGreaterThan(0);
    // Access and alarm events outrank everything else: they are still all there.
    const kept = box.peek(10_000).map((r) => (JSON.parse(r.body) as { data: { n: number } }).data.n % 5);
    expect(kept.filter((p) => p === 3).length).toBe(300);
    expect(kept.filter((p) => p === 4).length).toBe(300);
    expect(s.shedByPriority.access + s.shedByPriority.alarm).toBe(0);
    expect(alarms.filter((a) => a.kind === 'outbox_full' && a.active)).toHaveLength(1);
    await box.close();
  });

  it('rejects appends with GH_STORE_DISK_FULL and a storage alarm when the disk is full, keeps what it stored, and recovers when space returns', async () => {
    // PRAGMA max_page_count stands in for a full filesystem: SQLite answers SQLITE_FULL exactly as on ENOSPC.
    const box = openOutbox(options({ maxPageCount: 40 }));
    let stored = 0;
    let failure: unknown;
    for (let i = 0; i < 5000 && !failure; i++) {
      await box.append(event(i, 200), 'access').then(
        () => stored++,
        (e: unknown) => (failure = e),
      );
    }
    expect(isGatehouseError(failure, 'GH_STORE_DISK_FULL')).toBe(true);
    expect(alarms).toContainEqual(expect.objectContaining({ kind: 'storage_low', code: 'GH_STORE_DISK_FULL', active: true }));
    // Still running: later appends fail the same clean way, and the stored rows are intact.
    await expect(box.append(event(9999, 200), 'alarm')).rejects.toMatchObject({ code: 'GH_STORE_DISK_FULL' });
    expect(box.depth()).toBe(stored);
    expect(box.peek(stored + 10)).toHaveLength(stored);
    await box.close();
    const roomy = openOutbox(options());
    expect(roomy.depth()).toBe(stored);
    await roomy.append(event(10_000), 'access');
    expect(roomy.depth()).toBe(stored + 1);
    await roomy.close();
  });
});

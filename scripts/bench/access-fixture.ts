import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LaneConfig, ZoneConfig } from '../../config/sections/access.js';
import type { EntitlementRecord } from '../../gateway/access/index.js';
import type { Clock } from '../../gateway/core/clock.js';

/** Shared by the access and snapshot benchmarks: a venue and a population that look like a season of a stadium. */

// A Wednesday at noon: inside the weekday schedules below.
export const BENCH_EPOCH = Date.parse('2026-03-04T12:00:00Z');

/** Wall time that starts at BENCH_EPOCH and runs at real speed, so schedules give the same answers on every run. */
export function benchClock(): Clock {
  const t0 = performance.now();
  return { now: () => BENCH_EPOCH + (performance.now() - t0), monotonic: () => performance.now(), isSynced: () => true };
}

export const benchZones: ZoneConfig[] = [
  { id: 'bowl', capacity: 80_000, antiPassback: { mode: 'hard' }, pathLossExponent: 2.2 },
  { id: 'vip', capacity: 2_000, antiPassback: { mode: 'timed', minutes: 10 }, pathLossExponent: 2.2 },
  { id: 'gym', antiPassback: { mode: 'soft' }, pathLossExponent: 2.2 },
];

export const benchLanes: LaneConfig[] = [
  { id: 'bowl-in', reader: { device: 'r1' }, zone: 'bowl', direction: 'in', maxCacheAgeHours: 72 },
  { id: 'bowl-out', reader: { device: 'r2' }, zone: 'bowl', direction: 'out', maxCacheAgeHours: 72 },
  { id: 'vip-in', reader: { device: 'r3' }, zone: 'vip', direction: 'in', maxCacheAgeHours: 72 },
  { id: 'gym-in', reader: { device: 'r4' }, zone: 'gym', direction: 'in', maxCacheAgeHours: 72 },
];

/** Holder i's card number as a reader would send it (facility:number). */
export const benchCard = (i: number): string => `${100 + (i % 150)}:${1_000_000 + i}`;

/** Every 20th holder is expired, every 10th a one-entry ticket, one in 5 on a weekday schedule, one in 50 VIP, one in 3 gym-only. */
export function benchRecord(i: number): EntitlementRecord {
  const r: EntitlementRecord = {
    holder: `h${i.toString(36)}`,
    credentials: [{ kind: 'card', value: benchCard(i) }],
    validFrom: '2025-08-01T00:00:00Z',
    validUntil: i % 20 === 0 ? '2026-02-01T00:00:00Z' : '2026-07-31T23:59:59Z',
  };
  if (i % 7 === 0) r.credentials.push({ kind: 'mobile', value: `pass-${i.toString(16)}` });
  if (i % 10 === 0) r.limits = { total: 1 };
  if (i % 5 === 0) r.schedule = { weekly: [{ days: [1, 2, 3, 4, 5], from: '07:00', to: '23:00' }, { days: [0, 6], from: '09:00', to: '18:00' }], holidays: ['2025-12-25', '2026-01-01'] };
  if (i % 50 === 0) r.zones = ['bowl', 'vip'];
  else if (i % 3 === 0) r.zones = ['gym'];
  else r.zones = ['bowl'];
  if (i % 4 === 0) {
    r.consent = { personalisation: true };
    r.displayName = `Fan ${i}`;
  }
  return r;
}

export async function* benchRecords(n: number, offset = 0): AsyncIterable<EntitlementRecord> {
  for (let i = offset; i < offset + n; i++) yield benchRecord(i);
}

export function benchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export const num = (value: string | number | boolean | undefined, fallback: number): number => {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.replace(/_/g, '')) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
};

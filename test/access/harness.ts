import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { LaneConfig, ZoneConfig } from '../../config/sections/access.js';
import type { Clock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { createAccessEngine, openEntitlementStore, type AccessEngine, type EntitlementRecord, type EntitlementStore } from '../../gateway/access/index.js';

/** A clock the test moves by hand. */
export interface FakeClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
  synced: boolean;
}

export function fakeClock(start = Date.parse('2026-03-04T12:00:00Z')): FakeClock {
  let wall = start;
  let mono = 1_000;
  const clock: FakeClock = {
    synced: true,
    now: () => wall,
    monotonic: () => mono,
    isSynced: () => clock.synced,
    set(ms) {
      mono += Math.max(0, ms - wall);
      wall = ms;
    },
    advance(ms) {
      wall += ms;
      mono += ms;
    },
  };
  return clock;
}

export const KEY = Buffer.alloc(32, 7);

export function zone(id: string, extra: Partial<ZoneConfig> = {}): ZoneConfig {
  return { id, antiPassback: { mode: 'none' }, pathLossExponent: 2.2, ...extra };
}

export function lane(id: string, zoneId: string, extra: Partial<LaneConfig> = {}): LaneConfig {
  return { id, reader: { device: 'dev' }, zone: zoneId, direction: 'in', maxCacheAgeHours: 72, ...extra };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gatehouse-access-'));
}

export async function* iterate<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const item of items) yield item;
}

export interface Rig {
  dir: string;
  clock: FakeClock;
  store: EntitlementStore;
  engine: AccessEngine;
  metrics: Registry;
  /** Closes engine and store and reopens both on the same directory (a restart). */
  restart(): void;
  close(): void;
}

export interface RigOptions {
  zones: ZoneConfig[];
  lanes: LaneConfig[];
  records?: EntitlementRecord[];
  timezone?: string;
  dir?: string;
  clock?: FakeClock;
}

/** A store and engine on a temp directory, loaded with `records` (when given). */
export async function rig(options: RigOptions): Promise<Rig> {
  const dir = options.dir ?? tempDir();
  const clock = options.clock ?? fakeClock();
  const open = () => {
    const metrics = new Registry();
    const log = silentLogger();
    const store = openEntitlementStore({ dataDir: dir, key: KEY, clock, log, metrics });
    try {
      const engine = createAccessEngine({ store, zones: options.zones, lanes: options.lanes, clock, metrics, log, timezone: options.timezone ?? 'UTC', stateDir: dir });
      return { store, engine, metrics };
    } catch (err) {
      store.close();
      throw err;
    }
  };
  let r: ReturnType<typeof open>;
  try {
    r = open();
  } catch (err) {
    // A rig the test asked to fail must not leave its directory behind.
    if (options.dir === undefined) removeDir(dir);
    throw err;
  }
  const result: Rig = {
    dir,
    clock,
    ...r,
    restart() {
      result.engine.close();
      result.store.close();
      Object.assign(result, open());
    },
    close() {
      result.engine.close();
      result.store.close();
    },
  };
  if (options.records) await r.store.applySnapshot(iterate(options.records), { version: 'v1', issuedAt: new Date(clock.now()).toISOString() });
  return result;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

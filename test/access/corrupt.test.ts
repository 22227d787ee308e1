import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { currentEntitlementsFile, STATE_FILE } from '../../gateway/access/index.js';
import { fakeClock, iterate, lane, removeDir, rig, tempDir, zone, type Rig } from './harness.js';

const zones = [zone('main', { antiPassback: { mode: 'hard' } })];
const lanes = [lane('in', 'main'), lane('out', 'main', { direction: 'out' }), lane('in-open', 'main', { fail: 'open' })];
const records = [{ holder: 'a', credentials: [{ kind: 'card' as const, value: '1' }] }];

describe('a corrupt entitlement cache', () => {
  let r: Rig | undefined;
  afterEach(() => {
    r?.close();
    if (r) removeDir(r.dir);
    r = undefined;
  });

  it('is moved aside at start; lanes decide by fail mode until a snapshot arrives; nothing throws', async () => {
    const dir = tempDir();
    const first = await rig({ zones, lanes, records, dir, clock: fakeClock() });
    expect(first.engine.decide('in', { kind: 'card', value: '1' }).result).toBe('granted');
    first.close();
    // Garbage over the whole file, as a dying SD card leaves it.
    writeFileSync(currentEntitlementsFile(dir), Buffer.from('this is not a database'.repeat(500)));

    r = await rig({ zones, lanes, dir, clock: first.clock });
    const status = r.store.status();
    expect(status.loaded).toBe(false);
    expect(status.corruptMovedAside).toBeDefined();
    expect(existsSync(status.corruptMovedAside ?? '')).toBe(true);

    expect(r.engine.decide('in', { kind: 'card', value: '1' })).toMatchObject({ result: 'denied', reason: 'fail_closed', flags: { failMode: true } });
    expect(r.engine.decide('out', { kind: 'card', value: '1' })).toMatchObject({ result: 'granted', reason: 'fail_open', flags: { failMode: true } });
    expect(r.engine.decide('in-open', { kind: 'card', value: '1' })).toMatchObject({ result: 'granted', reason: 'fail_open' });

    await r.store.applySnapshot(iterate(records), { version: 'v2', issuedAt: new Date(r.clock.now()).toISOString() });
    expect(r.store.status()).toMatchObject({ loaded: true, holders: 1 });
    expect(r.store.status().corruptMovedAside).toBeUndefined();
    // Anti-passback state (a separate file) survived: holder a is still inside from before the corruption.
    expect(r.engine.decide('in', { kind: 'card', value: '1' })).toMatchObject({ result: 'denied', reason: 'anti_passback' });
  });

  it('a corrupt state file is moved aside and the engine starts from empty state', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, STATE_FILE), Buffer.alloc(4096, 0xff));
    r = await rig({ zones, lanes, records, dir, clock: fakeClock() });
    expect(readdirSync(dir).some((f) => f.startsWith(`${STATE_FILE}.corrupt-`))).toBe(true);
    expect(r.engine.occupancy('main')).toBe(0);
    expect(r.engine.decide('in', { kind: 'card', value: '1' }).result).toBe('granted');
  });

  it('a truncated cache file (header intact, pages missing) is also caught', async () => {
    const dir = tempDir();
    const many = Array.from({ length: 3000 }, (_, i) => ({ holder: `h${i}`, credentials: [{ kind: 'card' as const, value: String(i) }] }));
    const first = await rig({ zones, lanes, records: many, dir, clock: fakeClock() });
    first.close();
    const path = currentEntitlementsFile(dir);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(path);
    // Keep the header page, scribble over the b-tree pages.
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 4096), Buffer.alloc(bytes.length - 4096, 0x33)]));
    r = await rig({ zones, lanes, dir, clock: first.clock });
    expect(r.store.status()).toMatchObject({ loaded: false });
    expect(r.engine.decide('in', { kind: 'card', value: '5' }).reason).toBe('fail_closed');
  });
});

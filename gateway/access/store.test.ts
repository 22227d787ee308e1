import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/log.js';
import { fakeClock, iterate, KEY, removeDir, tempDir } from '../../test/access/harness.js';
import type { EntitlementRecord } from './model.js';
import { currentEntitlementsFile, ENTITLEMENTS_FILE, openEntitlementStore, type EntitlementStore } from './store.js';

const rec = (holder: string, value: string, extra: Partial<EntitlementRecord> = {}): EntitlementRecord => ({ holder, credentials: [{ kind: 'card', value }], ...extra });
const meta = { version: 'snap-1', issuedAt: '2026-03-04T11:00:00Z' };

describe('entitlement store', () => {
  const dirs: string[] = [];
  const stores: EntitlementStore[] = [];
  const open = (dir = tempDir(), extra: { chunkMs?: number; key?: Buffer } = {}) => {
    dirs.push(dir);
    const store = openEntitlementStore({ dataDir: dir, key: extra.key ?? KEY, clock: fakeClock(), log: silentLogger(), metrics: new Registry(), ...(extra.chunkMs !== undefined ? { chunkMs: extra.chunkMs } : {}) });
    stores.push(store);
    return store;
  };
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) removeDir(d);
  });

  it('refuses a key shorter than 32 bytes with GH_ACCESS_KEY', () => {
    expect(() => open(tempDir(), { key: Buffer.alloc(31) })).toThrow(expect.objectContaining({ code: 'GH_ACCESS_KEY' }));
  });

  it('starts empty and not loaded, with no cursor', () => {
    const store = open();
    expect(store.status()).toEqual({ loaded: false, holders: 0 });
    expect(store.cursor()).toBeUndefined();
    expect(store.lookup({ kind: 'card', value: '1' })).toBeUndefined();
  });

  it('loads a snapshot, reports it and uses its version as the cursor', async () => {
    const store = open();
    const result = await store.applySnapshot(iterate([rec('a', '1'), rec('b', '2', { credentials: [{ kind: 'card', value: '2' }, { kind: 'pin', value: '22' }] })]), meta);
    expect(result).toEqual({ holders: 2, credentials: 3 });
    expect(store.status()).toMatchObject({ loaded: true, holders: 2, issuedAt: meta.issuedAt });
    expect(store.cursor()).toBe('snap-1');
    expect(store.lookup({ kind: 'pin', value: '22' })?.holder).toBe('b');
  });

  it('never writes a credential value in clear to disk', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.applySnapshot(iterate([rec('a', '987654321012'), rec('b', '5', { credentials: [{ kind: 'barcode', value: 'SECRET-QR-PAYLOAD' }] })]), meta);
    store.applyChanges([{ op: 'upsert', record: rec('c', '555444333222') }], 'c1');
    store.close();
    for (const file of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, file)).toString('latin1');
      expect(bytes).not.toContain('987654321012');
      expect(bytes).not.toContain('SECRET-QR-PAYLOAD');
      expect(bytes).not.toContain('555444333222');
    }
  });

  it('skips malformed and duplicate records with a metric and keeps the rest', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const metrics = new Registry();
    const store = openEntitlementStore({ dataDir: dir, key: KEY, clock: fakeClock(), log: silentLogger(), metrics });
    stores.push(store);
    const bad = [
      { holder: '', credentials: [] },
      { holder: 'x', credentials: 'nope' },
      rec('y', '3', { validFrom: 'yesterday' }),
      rec('z', '4', { schedule: { weekly: [{ days: [7], from: '09:00', to: '10:00' }] } }),
      rec('w', '5', { schedule: { weekly: [{ days: [1], from: '9am', to: '10:00' }] } }),
    ] as unknown as EntitlementRecord[];
    const result = await store.applySnapshot(iterate([rec('a', '1'), ...bad, rec('a', '2')]), meta);
    expect(result).toEqual({ holders: 1, credentials: 1 });
    expect(await metrics.metrics()).toContain('gatehouse_access_store_errors_total{code="GH_DOWNLINK_FORMAT"} 6');
  });

  it('applies upserts, deletes, blocks and consent changes at once, with the cursor', async () => {
    const store = open();
    await store.applySnapshot(iterate([rec('a', '1'), rec('b', '2')]), meta);
    store.applyChanges(
      [
        { op: 'upsert', record: rec('a', '11') },
        { op: 'upsert', record: rec('c', '3') },
        { op: 'delete', holder: 'b' },
        { op: 'block', holder: 'c', reason: 'lost card' },
        { op: 'consent', holder: 'a', consent: { personalisation: true } },
        { op: 'delete', holder: 'never-existed' },
        { op: 'upsert', record: { holder: '' } as unknown as EntitlementRecord },
      ],
      'cursor-2',
    );
    expect(store.lookup({ kind: 'card', value: '1' })).toBeUndefined();
    expect(store.lookup({ kind: 'card', value: '11' })?.holder).toBe('a');
    expect(store.lookup({ kind: 'card', value: '2' })).toBeUndefined();
    expect(store.lookup({ kind: 'card', value: '3' })?.blocked).toBe('lost card');
    expect(store.cursor()).toBe('cursor-2');
    expect(store.status().holders).toBe(2);
  });

  it('a credential re-issued to another holder stays with the new holder when the old one is deleted', async () => {
    const store = open();
    await store.applySnapshot(iterate([rec('a', '1')]), meta);
    store.applyChanges([{ op: 'upsert', record: rec('b', '1') }, { op: 'delete', holder: 'a' }], 'c1');
    expect(store.lookup({ kind: 'card', value: '1' })?.holder).toBe('b');
  });

  it('keeps answering from the old snapshot while a new one loads, then swaps', async () => {
    const store = open(tempDir(), { chunkMs: 0 });
    await store.applySnapshot(iterate([rec('old', '1')]), meta);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncIterable<EntitlementRecord> {
      yield rec('new', '1');
      await gate;
      yield rec('other', '2');
    }
    const loading = store.applySnapshot(slow(), { version: 'snap-2', issuedAt: '2026-03-04T12:00:00Z' });
    await tick();
    expect(store.lookup({ kind: 'card', value: '1' })?.holder).toBe('old');
    await expect(store.applySnapshot(iterate([]), meta)).rejects.toThrow(/already loading/);
    // A change arriving mid-load lands in the old file now and in the new one after the swap.
    store.applyChanges([{ op: 'block', holder: 'new', reason: 'mid-load' }], 'c-mid');
    release();
    await loading;
    expect(store.lookup({ kind: 'card', value: '1' })).toMatchObject({ holder: 'new', blocked: 'mid-load' });
    expect(store.cursor()).toBe('c-mid');
    expect(store.status()).toMatchObject({ holders: 2, issuedAt: '2026-03-04T12:00:00Z' });
  });

  it('replays a change that arrives after the last record, while the file is committed and fsynced off the event loop', async () => {
    const store = open();
    await store.applySnapshot(iterate([rec('old', '1')]), meta);
    let late: Promise<void> | undefined;
    async function* records(): AsyncIterable<EntitlementRecord> {
      yield rec('new', '1');
      // Runs once the builder is finishing: the event loop is free while the worker commits and fsyncs.
      late = new Promise((resolve) => setImmediate(() => resolve(store.applyChanges([{ op: 'block', holder: 'new', reason: 'late' }], 'c-late'))));
    }
    await store.applySnapshot(records(), { version: 'snap-2', issuedAt: meta.issuedAt });
    await late;
    expect(store.lookup({ kind: 'card', value: '1' })).toMatchObject({ holder: 'new', blocked: 'late' });
    expect(store.cursor()).toBe('c-late');
  });

  it('a store closed mid-load rejects the load and leaves no half-built file', async () => {
    const dir = tempDir();
    const store = open(dir, { chunkMs: 0 });
    await store.applySnapshot(iterate([rec('old', '1')]), meta);
    async function* records(): AsyncIterable<EntitlementRecord> {
      for (let i = 0; i < 5000; i++) {
        if (i === 2500) store.close();
        yield rec(`h${i}`, String(i + 10));
      }
    }
    await expect(store.applySnapshot(records(), { version: 'snap-2', issuedAt: meta.issuedAt })).rejects.toThrow(/closed during snapshot load/);
    expect(readdirSync(dir).filter((f) => f.startsWith('entitlements-2'))).toEqual([]);
    expect(currentEntitlementsFile(dir)).toBe(join(dir, 'entitlements-1.db'));
  });

  it('a snapshot that fails mid-load leaves the previous cache in use and is counted', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const metrics = new Registry();
    const store = openEntitlementStore({ dataDir: dir, key: KEY, clock: fakeClock(), log: silentLogger(), metrics });
    stores.push(store);
    await store.applySnapshot(iterate([rec('old', '1')]), meta);
    async function* broken(): AsyncIterable<EntitlementRecord> {
      yield rec('new', '1');
      throw new Error('connection reset');
    }
    await expect(store.applySnapshot(broken(), { version: 'snap-2', issuedAt: meta.issuedAt })).rejects.toThrow('connection reset');
    expect(store.lookup({ kind: 'card', value: '1' })?.holder).toBe('old');
    expect(store.cursor()).toBe('snap-1');
    expect(await metrics.metrics()).toContain('gatehouse_access_store_errors_total{code="GH_ACCESS_SNAPSHOT_FAILED"} 1');
    expect(readdirSync(dir).filter((f) => f.startsWith('entitlements-2'))).toEqual([]);
  });

  it('keeps the loaded cache across a reopen', async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.applySnapshot(iterate([rec('a', '1')]), meta);
    first.close();
    const second = open(dir);
    expect(second.status()).toMatchObject({ loaded: true, holders: 1 });
    expect(second.lookup({ kind: 'card', value: '1' })?.holder).toBe('a');
  });

  it('moves a corrupt file aside at open and reports it, without throwing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, ENTITLEMENTS_FILE), Buffer.alloc(8192, 0x5a));
    const store = open(dir);
    const status = store.status();
    expect(status.loaded).toBe(false);
    expect(status.corruptMovedAside).toMatch(/entitlements\.db\.corrupt-/);
  });

  it('each snapshot gets a new file named by the pointer; the old file and crash leftovers are deleted', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.applySnapshot(iterate([rec('a', '1')]), meta);
    expect(currentEntitlementsFile(dir)).toBe(join(dir, 'entitlements-1.db'));
    await store.applySnapshot(iterate([rec('b', '2')]), { ...meta, version: 'snap-2' });
    expect(currentEntitlementsFile(dir)).toBe(join(dir, 'entitlements-2.db'));
    await vi.waitFor(() => expect(existsSync(join(dir, 'entitlements-1.db'))).toBe(false), { timeout: 20_000 });
    store.close();
    writeFileSync(join(dir, 'entitlements-3.db'), 'half-built');
    const reopened = open(dir);
    expect(reopened.lookup({ kind: 'card', value: '2' })?.holder).toBe('b');
    expect(readdirSync(dir).filter((f) => f.startsWith('entitlements-')).sort()).toEqual(['entitlements-2.db', 'entitlements-2.db-shm', 'entitlements-2.db-wal']);
  });

  it('gives engagement a holder\'s record without credentials', async () => {
    const store = open();
    await store.applySnapshot(iterate([rec('a', '1', { tier: 'gold', vip: true, displayName: 'Ada', consent: { personalisation: true } })]), meta);
    expect(store.holder('a')).toEqual({ holder: 'a', tier: 'gold', vip: true, displayName: 'Ada', consent: { personalisation: true } });
    expect(store.holder('nobody')).toBeUndefined();
    store.applyChanges([{ op: 'consent', holder: 'a', consent: { personalisation: false } }], 'c1');
    expect(store.holder('a')?.consent).toEqual({ personalisation: false });
  });

  it('answers holder() for a holder just decided from memory, and forgets it when the data changes', async () => {
    const store = open();
    await store.applySnapshot(iterate([rec('a', '1', { tier: 'gold', consent: { personalisation: true } })]), meta);
    expect(store.lookup({ kind: 'card', value: '1' })?.holder).toBe('a');
    // The same object as the decision's: no second read (a fresh read would parse a new one).
    expect(store.holder('a')).toBe(store.holder('a'));
    store.applyChanges([{ op: 'consent', holder: 'a', consent: { personalisation: false } }], 'c1');
    expect(store.holder('a')?.consent).toEqual({ personalisation: false });
    store.lookup({ kind: 'card', value: '1' });
    store.applyChanges([{ op: 'block', holder: 'a', reason: 'lost card' }], 'c2');
    expect(store.holder('a')).toMatchObject({ blocked: { reason: 'lost card' } });
  });

  it('lists ticketed events that ended in a window, with their holders, following changes', async () => {
    const store = open();
    const event = (id: string, end: string) => ({ id, start: '2026-03-04T18:00:00Z', end });
    await store.applySnapshot(
      iterate([
        rec('a', '1', { event: event('match-1', '2026-03-04T20:00:00Z') }),
        rec('b', '2', { event: event('match-1', '2026-03-04T20:00:00Z') }),
        rec('c', '3', { event: event('match-2', '2026-03-05T20:00:00Z') }),
        rec('d', '4'),
        rec('e', '5', { event: { id: 'bad', start: 'soon', end: 'later' } }),
      ]),
      meta,
    );
    const start = Date.parse('2026-03-04T18:00:00Z');
    const end1 = Date.parse('2026-03-04T20:00:00Z');
    expect(store.ticketEventsEndedBetween(end1 - 1, end1)).toEqual([{ eventId: 'match-1', start, end: end1, holders: ['a', 'b'] }]);
    expect(store.ticketEventsEndedBetween(end1, end1 + 1000)).toEqual([]);
    expect(store.ticketEventsEndedBetween(0, Date.parse('2026-03-06T00:00:00Z')).map((e) => e.eventId)).toEqual(['match-1', 'match-2']);
    store.applyChanges([{ op: 'delete', holder: 'b' }, { op: 'upsert', record: rec('c', '3') }], 'c1');
    expect(store.ticketEventsEndedBetween(0, Date.parse('2026-03-06T00:00:00Z'))).toEqual([{ eventId: 'match-1', start, end: end1, holders: ['a'] }]);
  });

  it('refuses work after close', async () => {
    const store = open();
    store.close();
    store.close();
    expect(() => store.applyChanges([], 'c')).toThrow(/closed/);
    await expect(store.applySnapshot(iterate([]), meta)).rejects.toThrow(/closed/);
  });
});

import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY, removeDir, tempDir } from '../../test/access/harness.js';
import { credentialHasher } from './credential.js';
import { startSnapshotBuilder, type BuildBatch, type SnapshotBuilderOptions } from './snapshot-builder.js';

const SQL: SnapshotBuilderOptions['sql'] = {
  insertHolder: 'INSERT INTO holder (ref, body, creds) VALUES (?, ?, ?) ON CONFLICT (ref) DO NOTHING',
  insertCredential: 'INSERT OR REPLACE INTO credential (hash, holder) VALUES (?, ?)',
  insertTicketEvent: 'INSERT INTO ticket_event (holder, event_id, starts_at, ends_at) VALUES (?, ?, ?, ?)',
  setMeta: 'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
};
const SCHEMA = `
  CREATE TABLE holder (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, body TEXT NOT NULL, creds BLOB NOT NULL);
  CREATE TABLE credential (hash BLOB PRIMARY KEY, holder INTEGER NOT NULL);
  CREATE TABLE ticket_event (holder INTEGER NOT NULL, event_id TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
const HASH_BYTES = 16;
const hash = credentialHasher(KEY);
const hex = (kind: string, value: string) => hash({ kind: kind as 'card', value }).subarray(0, HASH_BYTES).toString('hex').toUpperCase();
const batch = (over: Partial<BuildBatch>): BuildBatch => ({ refs: [], bodies: [], counts: [], credentials: [], events: [], ...over });

describe('snapshot builder thread', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
  });
  const start = (over: Partial<SnapshotBuilderOptions> = {}) => {
    const dir = tempDir();
    dirs.push(dir);
    const duplicates: string[] = [];
    const path = join(dir, 'build.db');
    const builder = startSnapshotBuilder({ path, setup: SCHEMA, sql: SQL, key: KEY, hashBytes: HASH_BYTES, cacheKib: 1024, maxInFlight: 1, onDuplicates: (refs) => duplicates.push(...refs), ...over });
    return { builder, duplicates, path };
  };

  it('stores each record with its credential hashes and ticket event, reports duplicates, and leaves a WAL file', async () => {
    const { builder, duplicates, path } = start();
    await builder.add(batch({ refs: ['a', 'b'], bodies: ['{"holder":"a"}', '{"holder":"b"}'], counts: [1, 2], credentials: ['card:1', 'card:2', 'pin:22'], events: [[1, 'match', 10, 20]] }));
    await builder.add(batch({ refs: ['a', 'c'], bodies: ['{"holder":"a2"}', '{"holder":"c"}'], counts: [1, 0], credentials: ['card:9'], events: [[0, 'dup-event', 1, 2]] }));
    await builder.drain();
    expect(duplicates).toEqual(['a']);
    expect(await builder.finish([['loaded', '1']])).toEqual({ holders: 3, credentials: 3 });

    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT ref, body, hex(creds) AS creds FROM holder ORDER BY ref').all()).toEqual([
      { ref: 'a', body: '{"holder":"a"}', creds: hex('card', '1') },
      { ref: 'b', body: '{"holder":"b"}', creds: hex('card', '2') + hex('pin', '22') },
      { ref: 'c', body: '{"holder":"c"}', creds: '' },
    ]);
    expect(db.prepare('SELECT hex(hash) AS hash, h.ref AS ref FROM credential JOIN holder h ON h.id = credential.holder ORDER BY ref, hash').all()).toEqual([
      { hash: hex('card', '1'), ref: 'a' },
      ...[hex('card', '2'), hex('pin', '22')].sort().map((h) => ({ hash: h, ref: 'b' })),
    ]);
    expect(db.prepare('SELECT event_id AS id, h.ref AS ref FROM ticket_event JOIN holder h ON h.id = ticket_event.holder').all()).toEqual([{ id: 'match', ref: 'b' }]);
    expect(db.prepare('SELECT value FROM meta WHERE key = ?').get('loaded')).toEqual({ value: '1' });
    db.close();
  });

  it('hashes exactly as the store hashes a read credential, for any credential text (property, one thread)', async () => {
    const credentials = [
      ...fc.sample(fc.tuple(fc.constantFrom('card', 'pin', 'barcode', 'mobile'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 })), { numRuns: 300, seed: 8 }),
      // Past the thread's scratch buffer: the createHmac path.
      ['barcode', 'é'.repeat(1500)] as [string, string],
    ];
    const { builder, path } = start();
    await builder.add(batch({ refs: credentials.map((_, i) => `h${i}`), bodies: credentials.map(() => '{}'), counts: credentials.map(() => 1), credentials: credentials.map(([k, v]) => `${k}:${v}`) }));
    await builder.finish([]);
    const db = new Database(path, { readonly: true });
    const stored = db.prepare('SELECT hex(creds) AS creds FROM holder ORDER BY id').all() as Array<{ creds: string }>;
    db.close();
    expect(stored.map((r) => r.creds)).toEqual(credentials.map(([k, v]) => hex(k, v)));
  });

  it('rejects with the SQLite error code when the worker fails, at the next add, drain or finish', async () => {
    const { builder } = start({ sql: { ...SQL, insertHolder: 'INSERT INTO no_such_table VALUES (?, ?, ?)' } });
    const failure = expect.objectContaining({ name: 'SnapshotBuildError', code: 'SQLITE_ERROR', message: expect.stringMatching(/no such table/) });
    await expect(builder.drain().then(() => builder.add(batch({ refs: ['a'], bodies: ['{}'], counts: [0] })))).rejects.toEqual(failure);
    await expect(builder.finish([])).rejects.toEqual(failure);
    await builder.abort();
  });

  it('stops the thread on abort: nothing more can be sent or finished', async () => {
    const { builder } = start();
    await builder.add(batch({ refs: ['a'], bodies: ['{}'], counts: [0] }));
    await builder.abort();
    await expect(builder.finish([])).rejects.toThrow(/exited/);
  });
});

import Database from 'better-sqlite3';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY, removeDir, tempDir } from '../../test/access/harness.js';
import { setLowPriorityWrapper } from '../ops/thread-priority.js';
import { credentialHasher } from './credential.js';
import { startSnapshotBuilder, type BuildBatch, type BuildProblem, type SnapshotBuilderOptions } from './snapshot-builder.js';

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
const card = (value: string) => ({ kind: 'card' as const, value });
const batch = (over: Partial<BuildBatch>): BuildBatch => ({ refs: [], bodies: [], counts: [], credentials: [], events: [], ...over });

describe('snapshot build process', () => {
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
    await builder.add(batch({ refs: ['a', 'b'], bodies: ['{"holder":"a"}', '{"holder":"b"}'], counts: [1, 2], credentials: [card('1'), card('2'), { kind: 'pin', value: '22' }], events: [[1, 'match', 10, 20]] }));
    await builder.add(batch({ refs: ['a', 'c'], bodies: ['{"holder":"a2"}', '{"holder":"c"}'], counts: [1, 0], credentials: [card('9')], events: [[0, 'dup-event', 1, 2]] }));
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

  it('hashes exactly as the store hashes a read credential, for any credential text (property, one process)', async () => {
    const credentials = [
      ...fc.sample(fc.tuple(fc.constantFrom('card', 'pin', 'barcode', 'mobile'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 })), { numRuns: 300, seed: 8 }),
      // Past the hasher's scratch buffer: the createHmac path.
      ['barcode', 'é'.repeat(1500)] as [string, string],
    ];
    const { builder, path } = start();
    await builder.add(batch({ refs: credentials.map((_, i) => `h${i}`), bodies: credentials.map(() => '{}'), counts: credentials.map(() => 1), credentials: credentials.map(([kind, value]) => ({ kind: kind as 'card', value })) }));
    await builder.finish([]);
    const db = new Database(path, { readonly: true });
    const stored = db.prepare('SELECT hex(creds) AS creds FROM holder ORDER BY id').all() as Array<{ creds: string }>;
    db.close();
    expect(stored.map((r) => r.creds)).toEqual(credentials.map(([k, v]) => hex(k, v)));
  });

  it('rejects with the SQLite error code when the build fails, at the next add, drain or finish', async () => {
    const { builder } = start({ sql: { ...SQL, insertHolder: 'INSERT INTO no_such_table VALUES (?, ?, ?)' } });
    const failure = expect.objectContaining({ name: 'SnapshotBuildError', code: 'SQLITE_ERROR', message: expect.stringMatching(/no such table/) });
    await expect(builder.drain().then(() => builder.add(batch({ refs: ['a'], bodies: ['{}'], counts: [0] })))).rejects.toEqual(failure);
    await expect(builder.finish([])).rejects.toEqual(failure);
    await builder.abort();
  });

  it('reads a staged NDJSON file itself: skips bad records with their line, reports duplicates and progress', async () => {
    const skipped: BuildProblem[] = [];
    const progress: number[] = [];
    const { builder, duplicates, path } = start({ onSkipped: (p) => skipped.push(...p), onProgress: (n) => progress.push(n) });
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'snapshot.ndjson');
    const header = '{"gatehouse":"snapshot","cursor":"c1"}\n';
    const record = (holder: string, value: string, extra = {}) => JSON.stringify({ holder, credentials: [card(value)], ...extra });
    writeFileSync(
      file,
      header +
        [
          record('a', '1', { event: { id: 'final', start: '2026-05-01T18:00:00Z', end: '2026-05-01T22:00:00Z' } }),
          '',
          record('b', '2', { validFrom: 'yesterday' }),
          record('a', '3'),
          record('c', '4'),
        ].join('\n') +
        '\n',
    );
    expect(await builder.loadFile(file, Buffer.byteLength(header), 2)).toEqual({ records: 4 });
    expect(skipped).toEqual([{ line: 4, holder: 'b', problem: 'validFrom/validUntil is not RFC 3339' }]);
    expect(duplicates).toEqual(['a']);
    expect(progress.at(-1)).toBe(4);
    expect(await builder.finish([])).toEqual({ holders: 2, credentials: 2 });
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT ref, body, hex(creds) AS creds FROM holder ORDER BY ref').all()).toEqual([
      { ref: 'a', body: JSON.stringify({ holder: 'a', event: { id: 'final', start: '2026-05-01T18:00:00Z', end: '2026-05-01T22:00:00Z' } }), creds: hex('card', '1') },
      { ref: 'c', body: '{"holder":"c"}', creds: hex('card', '4') },
    ]);
    expect(db.prepare('SELECT event_id AS id, starts_at AS start FROM ticket_event').all()).toEqual([{ id: 'final', start: Date.parse('2026-05-01T18:00:00Z') }]);
    db.close();
  });

  it('fails the whole file with GH_DOWNLINK_FORMAT and the line number when a line is not a record', async () => {
    const { builder } = start();
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'snapshot.ndjson');
    writeFileSync(file, `{"holder":"a","credentials":[]}\n{"holder":"b","credentials":[{"kind":"iris","value":"x"}]}\n`);
    await expect(builder.loadFile(file, 0, 7)).rejects.toEqual(expect.objectContaining({ name: 'SnapshotBuildError', code: 'GH_DOWNLINK_FORMAT', message: expect.stringMatching(/line 8/) }));
    await builder.abort();
  });

  it('builds at normal priority, and says so, when the low-priority wrapper cannot start the process', async () => {
    setLowPriorityWrapper(['/bin/false']);
    const notices: string[] = [];
    try {
      const { builder } = start({ onLowPriorityUnavailable: (reason) => notices.push(reason) });
      await builder.add(batch({ refs: ['a'], bodies: ['{}'], counts: [1], credentials: [card('1')] }));
      expect(await builder.finish([])).toEqual({ holders: 1, credentials: 1 });
      expect(notices).toEqual([expect.stringContaining('/bin/false could not start the build process')]);
    } finally {
      setLowPriorityWrapper(undefined);
    }
  });

  it('stops the process on abort: nothing more can be sent or finished', async () => {
    const { builder } = start();
    await builder.add(batch({ refs: ['a'], bodies: ['{}'], counts: [0] }));
    await builder.abort();
    await expect(builder.finish([])).rejects.toThrow(/exited/);
  });
});

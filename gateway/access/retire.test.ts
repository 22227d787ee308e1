import Database from 'better-sqlite3';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { removeDir, tempDir } from '../../test/access/harness.js';
import { retireCacheFile } from './retire.js';

describe('retiring a swapped-out cache file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
  });
  const walDb = () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'entitlements-1.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (v TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(500));
    return { db, path };
  };

  it('closes the event loop\'s connection while a worker still holds the file, so that close skips the checkpoint; the worker deletes the files', async () => {
    const { db, path } = walDb();
    const fallback = vi.fn();
    let walAfterClose: boolean | undefined;
    retireCacheFile(
      path,
      () => {
        db.close();
        // The last connection to close checkpoints and deletes the WAL; this one was not the last.
        walAfterClose = existsSync(`${path}-wal`);
      },
      fallback,
    );
    await vi.waitFor(() => expect(walAfterClose).toBe(true), { timeout: 10_000 });
    await vi.waitFor(() => expect(['', '-wal', '-shm'].map((s) => existsSync(path + s))).toEqual([false, false, false]), { timeout: 10_000 });
    expect(fallback).not.toHaveBeenCalled();
  });

  it('falls back to the event loop when the worker cannot open the file', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'entitlements-1.db');
    writeFileSync(path, 'not a database, and no header SQLite accepts');
    const closeHere = vi.fn();
    const fallback = vi.fn();
    retireCacheFile(path, closeHere, fallback);
    await vi.waitFor(() => expect(fallback).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    expect(closeHere).not.toHaveBeenCalled();
  });
});

import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { GatehouseError } from '../errors.js';

export type Db = Database.Database;

/** One numbered schema migration; `version` starts at 1 and never changes once released. */
export interface Migration {
  version: number;
  up: string | ((db: Db) => void);
}

export interface OpenOptions {
  migrations: Migration[];
  /** `FULL` makes each commit durable before it returns; `NORMAL` is enough when a group commit fsyncs. */
  synchronous?: 'FULL' | 'NORMAL' | 'OFF';
  /** Run `PRAGMA quick_check` at open and move a corrupt file aside instead of failing (default true). */
  checkIntegrity?: boolean;
  readonly?: boolean;
}

export interface OpenResult {
  db: Db;
  /** Set when the file failed its integrity check and was moved aside: a fresh, empty database was created. */
  movedAside?: string;
}

/**
 * Opens a SQLite file under the data directory with WAL, applies numbered
 * migrations inside one transaction each, and checks integrity at start so a
 * corrupt file becomes an alarm and a fresh store, never a crash loop.
 */
export function openDatabase(path: string, options: OpenOptions): OpenResult {
  if (path !== ':memory:') ensureWritableDir(dirname(path));
  let movedAside: string | undefined;
  let db: Db;
  try {
    db = openRaw(path, options);
    if (options.checkIntegrity !== false && path !== ':memory:' && !isIntact(db)) {
      db.close();
      movedAside = moveAside(path);
      db = openRaw(path, options);
    }
  } catch (err) {
    if (isCorruptionError(err) && path !== ':memory:' && options.checkIntegrity !== false) {
      movedAside = moveAside(path);
      db = openRaw(path, options);
    } else {
      throw new GatehouseError('GH_STORE_OPEN', `cannot open database ${path}: ${(err as Error).message}`, { path }, { cause: err });
    }
  }
  if (!options.readonly) migrate(db, options.migrations);
  return movedAside ? { db, movedAside } : { db };
}

function openRaw(path: string, options: OpenOptions): Db {
  const db = new Database(path, { readonly: options.readonly ?? false });
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Reading the schema forces SQLite to parse the header: a file that is not a database throws here.
  db.prepare('SELECT count(*) FROM sqlite_master').get();
  return db;
}

function isIntact(db: Db): boolean {
  try {
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    return rows.length === 1 && rows[0]?.quick_check === 'ok';
  } catch {
    return false;
  }
}

function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}

/** Renames the file (and its WAL/SHM) to `<path>.corrupt-<timestamp>` so an operator can inspect it. */
function moveAside(path: string): string {
  const target = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  }
  return target;
}

export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new GatehouseError('GH_STORE_DATA_DIR', `data directory ${dir} is not writable: ${(err as Error).message}`, { dir }, { cause: err });
  }
}

/** Applies migrations newer than `PRAGMA user_version`, each in its own transaction. */
export function migrate(db: Db, migrations: Migration[]): number {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  let current = db.pragma('user_version', { simple: true }) as number;
  for (const m of sorted) {
    if (m.version <= current) continue;
    try {
      db.transaction(() => {
        if (typeof m.up === 'string') db.exec(m.up);
        else m.up(db);
        db.pragma(`user_version = ${m.version}`);
      })();
      current = m.version;
    } catch (err) {
      throw new GatehouseError('GH_STORE_MIGRATION', `migration ${m.version} failed: ${(err as Error).message}`, { version: m.version }, { cause: err });
    }
  }
  return current;
}

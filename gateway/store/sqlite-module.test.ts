import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { sqliteModulePath } from './sqlite-module.js';

describe('sqliteModulePath', () => {
  it("names better-sqlite3's entry file, which a require by path loads", () => {
    const path = sqliteModulePath();
    expect(existsSync(path)).toBe(true);
    expect(path).toMatch(/better-sqlite3/);
    const Database = createRequire(import.meta.url)(path) as new (file: string) => { prepare: (sql: string) => { get: () => unknown }; close: () => void };
    const db = new Database(':memory:');
    expect(db.prepare('SELECT 41 + 1 AS answer').get()).toEqual({ answer: 42 });
    db.close();
    expect(sqliteModulePath()).toBe(path);
  });
});

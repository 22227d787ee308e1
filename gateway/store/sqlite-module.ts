import { createRequire } from 'node:module';

let entry: string | undefined;

/**
 * Where better-sqlite3's entry file lives, for threads and processes that
 * `require` it by path (the outbox checkpointer, the cache retirer, the
 * snapshot build's inserter: code evaluated from a string resolves nothing
 * relative to this package). Resolved once: it is synchronous file-system
 * work, and the first call may come while the gate is deciding. This module
 * does not load better-sqlite3 itself.
 */
export function sqliteModulePath(): string {
  entry ??= createRequire(import.meta.url).resolve('better-sqlite3');
  return entry;
}

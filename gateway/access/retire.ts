import { Worker } from 'node:worker_threads';
import { startBackgroundWorker } from '../ops/thread-priority.js';
import { sqliteModulePath } from '../store/sqlite-module.js';

/**
 * Closing the last connection to a WAL database checkpoints the WAL into the
 * file first: with the ~1,000 pages SQLite lets a WAL grow to, that is
 * 10-20 ms of copying on whichever thread closes (measured on the 2-core
 * build box). For a cache file that is about to be deleted the copy is waste,
 * and on the event loop it is a pause at the gate. So a worker thread opens
 * its own connection first: the event loop's close is then not the last one
 * and returns at once, and the worker deletes the files and closes last,
 * doing the checkpoint (into an unlinked file, so never written back) off the
 * event loop. Plain CommonJS evaluated from a string, like the builder.
 */
const RETIRER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.prepare('SELECT count(*) FROM sqlite_master').get();
parentPort.postMessage('holding');
parentPort.once('message', () => {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(workerData.path + suffix, { force: true });
  db.pragma('synchronous = OFF');
  db.close();
  parentPort.close();
});
`;

/**
 * Closes a swapped-out cache file and deletes it, doing SQLite's close-time
 * checkpoint on a worker thread. `closeHere` closes the event loop's
 * connection; `fallback` closes and deletes on the event loop if the worker
 * cannot hold the file (not a file, thread failed): slower, never wrong.
 */
export function retireCacheFile(path: string, closeHere: () => void, fallback: (reason: string) => void): void {
  let worker: Worker;
  try {
    worker = startBackgroundWorker(() => new Worker(RETIRER_SOURCE, { eval: true, workerData: { module: sqliteModulePath(), path } }));
  } catch (err) {
    fallback((err as Error).message);
    return;
  }
  // An exit before the files are gone leaves them to the leftover sweep at the next open.
  worker.unref();
  let holding = false;
  worker.once('message', () => {
    holding = true;
    closeHere();
    worker.postMessage('close');
  });
  worker.once('error', (err) => {
    if (!holding) fallback(err.message);
  });
}

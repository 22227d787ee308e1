// First module of a worker thread started from a TypeScript source checkout
// (gateway/core/worker.ts): registers tsx's loader in this thread, which Node 20
// does not carry over from the parent, then loads the real entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.gatehouseEntry);

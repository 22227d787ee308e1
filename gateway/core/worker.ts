import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this code base, given as a URL
 * relative to the caller (`new URL('./x-worker.js', import.meta.url)`).
 * Compiled (production, Docker), the `.js` file runs as is. From a source
 * checkout and under vitest the caller is a `.ts` file: the worker then
 * starts on tsx-worker-boot.mjs, which registers tsx in the new thread and
 * imports the `.ts` entry.
 */
export function startModuleWorker(entry: URL, callerUrl: string, options: Omit<WorkerOptions, 'eval' | 'workerData'> = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(entry, options);
  const source = new URL(entry.href.replace(/\.js$/, '.ts'));
  return new Worker(new URL('./tsx-worker-boot.mjs', import.meta.url), { ...options, workerData: { gatehouseEntry: source.href } });
}

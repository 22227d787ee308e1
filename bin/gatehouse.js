#!/usr/bin/env node
// Entry point of the `gatehouse` CLI.
// The compiled JavaScript in dist/ runs when there is no source (Docker image)
// and in production (NODE_ENV=production, as the systemd unit and the image
// set it) once `npm run build` has made it; otherwise, in a source checkout,
// the TypeScript runs directly through tsx.
import { existsSync, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'gateway', 'cli', 'main.js');
const source = join(root, 'gateway', 'cli', 'main.ts');
const production = process.env.NODE_ENV === 'production' && existsSync(compiled);

/** Thread ids of this process (Linux), to find the one tsx's loader starts. */
function threadIds() {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

if (existsSync(source) && !production) {
  const before = new Set(threadIds());
  const { register } = await import('tsx/esm/api');
  register();
  // tsx's module hooks run on a thread of their own with its own V8 heap, whose idle-time garbage
  // collections (8-9 ms each) competed with the event loop for the CPU: it runs at nice 10
  // (gateway/ops/thread-priority.ts explains why the event loop comes first).
  for (const tid of threadIds()) {
    if (before.has(tid)) continue;
    try {
      setPriority(tid, 10);
    } catch {
      // Gone already, or no per-thread priority here.
    }
  }
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(compiled).href);
}

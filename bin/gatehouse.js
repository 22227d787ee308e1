#!/usr/bin/env node
// Entry point of the `gatehouse` CLI.
// A source checkout runs the TypeScript directly through tsx; an installed
// build (Dockerfile, Pi package) runs the compiled JavaScript in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'gateway', 'cli', 'main.js');
const source = join(root, 'gateway', 'cli', 'main.ts');

if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(compiled).href);
}

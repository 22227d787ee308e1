import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GatehouseError } from '../gateway/errors.js';
import type { SecretRef } from './common.js';

/** Resolves a path from the config against the config file's directory. */
export function resolveFromConfig(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/**
 * Reads a secret named in the config. Trailing newlines are dropped (editors add them).
 * Throws GH_CONFIG_SECRET naming the file or variable, never the value.
 */
export function readSecret(ref: SecretRef, baseDir: string): Buffer {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === '') throw new GatehouseError('GH_CONFIG_SECRET', `environment variable ${ref.env} is not set`, { env: ref.env });
    return Buffer.from(value.replace(/\r?\n$/, ''), 'utf8');
  }
  const path = resolveFromConfig(baseDir, ref.file);
  try {
    const data = readFileSync(path);
    let end = data.length;
    while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d)) end--;
    return data.subarray(0, end);
  } catch (err) {
    throw new GatehouseError('GH_CONFIG_SECRET', `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
}

export function readSecretText(ref: SecretRef, baseDir: string): string {
  return readSecret(ref, baseDir).toString('utf8');
}

import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GatehouseError } from '../../gateway/errors.js';

/** Secure Channel base key (SCBK) files: one per reader, 32 hex digits, mode 0600 (docs/osdp.md "Secure Channel"). */

export function resolveKeyPath(keyFile: string, baseDir: string | undefined): string {
  return isAbsolute(keyFile) ? keyFile : resolve(baseDir ?? process.cwd(), keyFile);
}

/** Reads an SCBK key file: 32 hex digits. Missing file = no key yet (install mode). */
export function readKeyFile(path: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GatehouseError('GH_OSDP_KEY', `cannot read OSDP key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new GatehouseError('GH_OSDP_KEY', `OSDP key file ${path} must hold exactly 32 hex digits`, { file: path });
  return Buffer.from(text, 'hex');
}

/** Writes a key file atomically with mode 0600 (a half-written key would lock the reader out). */
export function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, key.toString('hex') + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    throw new GatehouseError('GH_OSDP_KEY', `cannot write OSDP key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
}

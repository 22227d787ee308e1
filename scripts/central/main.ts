/**
 * The central stand-in as a process (demo, benchmarks, ops rehearsals):
 *
 *   node --import tsx scripts/central/main.ts [--port N] [--host H] [--token T]
 *        [--signing-key FILE.pem] [--entitlements FILE.ndjson|.json] [--no-keep-events]
 *
 * Prints one JSON line `{"url": ..., "publicKey": <raw base64>}` once listening,
 * then serves until SIGINT/SIGTERM.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EntitlementRecord } from '../../gateway/access/model.js';
import { createLogger } from '../../gateway/core/log.js';
import { startCentralStandIn, type CentralStandIn } from './standin.js';

export interface CentralProcessOptions {
  port?: number;
  host?: string;
  token?: string;
  signingKeyFile?: string;
  entitlementsFile?: string;
  keepEvents?: boolean;
}

/** Reads entitlements as a JSON array or NDJSON (one record per line). */
export function readEntitlements(file: string): EntitlementRecord[] {
  const text = readFileSync(file, 'utf8').trim();
  if (text.startsWith('[')) return JSON.parse(text) as EntitlementRecord[];
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EntitlementRecord);
}

export function rawPublicKey(key: KeyObject): string {
  return (key.export({ type: 'spki', format: 'der' }) as Buffer).subarray(12).toString('base64');
}

export async function startCentralProcess(o: CentralProcessOptions): Promise<CentralStandIn> {
  const signingKey = o.signingKeyFile ? createPrivateKey(readFileSync(o.signingKeyFile)) : undefined;
  return startCentralStandIn({
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(signingKey ? { signingKey } : {}),
    ...(o.entitlementsFile ? { entitlements: readEntitlements(o.entitlementsFile) } : {}),
    keepEvents: o.keepEvents !== false,
    log: createLogger({ pretty: false, destination: process.stderr }),
  });
}

const invokedDirectly = process.argv[1] !== undefined && /scripts[\\/]central[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      token: { type: 'string' },
      'signing-key': { type: 'string' },
      entitlements: { type: 'string' },
      'no-keep-events': { type: 'boolean' },
    },
  });
  const central = await startCentralProcess({
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.token !== undefined ? { token: values.token } : {}),
    ...(values['signing-key'] !== undefined ? { signingKeyFile: values['signing-key'] } : {}),
    ...(values.entitlements !== undefined ? { entitlementsFile: values.entitlements } : {}),
    keepEvents: values['no-keep-events'] !== true,
  });
  process.stdout.write(JSON.stringify({ url: central.url, publicKey: rawPublicKey(central.publicKey) }) + '\n');
  const shutdown = () => void central.close().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENTITLEMENTS_FILE } from '../../access/store.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

const HOUR_MS = 3_600_000;
/** Lanes default to 72 h (config/sections/access.ts). */
const DEFAULT_MAX_AGE_HOURS = 72;

/**
 * Age of the entitlement cache against the strictest lane's `maxCacheAgeHours`.
 * Reads the store's meta table read-only: doctor never writes to the gateway's databases.
 */
export function checkEntitlements(ctx: CheckContext): CheckResult {
  const file = join(ctx.dataDir, ENTITLEMENTS_FILE);
  if (!existsSync(file)) return result('entitlements', 'skip', `no cache yet (${file} absent): the gateway creates it at first start`);
  let meta: Map<string, string>;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>;
      meta = new Map(rows.map((r) => [r.key, r.value]));
    } finally {
      db.close();
    }
  } catch (err) {
    return result('entitlements', 'fail', `${file} cannot be read: ${reasonOf(err)}`, 'the gateway moves a corrupt cache aside at start and pulls a new snapshot; restart it (systemctl restart gatehouse)');
  }
  const appliedAt = Number(meta.get('appliedAt'));
  const holders = meta.get('holders');
  if (!Number.isFinite(appliedAt) || appliedAt <= 0) {
    return result('entitlements', 'warn', 'no snapshot applied yet: lanes decide by their fail mode', 'check the central check above and central.publicKey; the snapshot is pulled at start');
  }
  const lanes = ctx.loaded.config.lanes;
  const maxAgeHours = lanes.length > 0 ? Math.min(...lanes.map((l) => l.maxCacheAgeHours)) : DEFAULT_MAX_AGE_HOURS;
  const ageHours = (ctx.now - appliedAt) / HOUR_MS;
  const detail = `last update ${new Date(appliedAt).toISOString()} (${ageHours.toFixed(1)} h ago${holders ? `, ${holders} holders` : ''}; limit ${maxAgeHours} h)`;
  if (ageHours > maxAgeHours) return result('entitlements', 'fail', `stale: ${detail}`, 'lanes now decide by their fail mode: restore the link to central (see the central check)');
  if (ageHours > maxAgeHours / 2) return result('entitlements', 'warn', `ageing: ${detail}`, 'updates are not arriving: check the link to central');
  return result('entitlements', 'ok', detail);
}

import { accessSync, constants, existsSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface DiskSpace {
  /** Bytes available to an unprivileged user. */
  available: number;
  total: number;
}

export interface DataDirDeps {
  statfs?: (path: string) => DiskSpace;
}

/** Below this the gateway raises storage_low; doctor fails. */
export const MIN_FREE_BYTES = 100 * 1024 * 1024;

function realStatfs(path: string): DiskSpace {
  const s = statfsSync(path);
  return { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/** The data directory exists (or can be created), takes a write, and has room for the outbox budget. */
export function checkDataDir(ctx: CheckContext, deps: DataDirDeps = {}): CheckResult[] {
  const dir = ctx.dataDir;
  const fix = `create it and give it to the service user: install -d -o gatehouse -g gatehouse -m 0750 ${dir} (systemd's StateDirectory=gatehouse does this for /var/lib/gatehouse)`;
  const out: CheckResult[] = [];
  // Doctor changes nothing: a missing directory is judged by its nearest existing parent.
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    if (existing === dir) {
      const probe = join(dir, `.doctor-${process.pid}`);
      writeFileSync(probe, 'probe');
      rmSync(probe, { force: true });
      out.push(result('data directory', 'ok', `${dir} is writable`));
    } else {
      if (!statSync(existing).isDirectory()) throw new Error(`${existing} is not a directory`);
      accessSync(existing, constants.W_OK);
      out.push(result('data directory', 'ok', `${dir} does not exist yet; the gateway creates it at start (${existing} is writable)`));
    }
  } catch (err) {
    return [result('data directory', 'fail', `${existing === dir ? dir : existing} is not writable: ${reasonOf(err)}`, fix)];
  }
  let space: DiskSpace;
  try {
    space = (deps.statfs ?? realStatfs)(existing);
  } catch (err) {
    out.push(result('free space', 'warn', `cannot read free space of ${dir}: ${reasonOf(err)}`));
    return out;
  }
  const budget = ctx.loaded.config.storage.outbox.maxBytes;
  const detail = `${mib(space.available)} free of ${mib(space.total)} on ${existing} (outbox budget ${mib(budget)})`;
  if (space.available < MIN_FREE_BYTES) {
    out.push(result('free space', 'fail', detail, 'free space on the data partition (old logs: journalctl --vacuum-size=100M) or move storage.dataDir to a larger disk'));
  } else if (space.available < budget) {
    out.push(result('free space', 'warn', detail, 'the outbox could outgrow the disk while central is unreachable: free space or lower storage.outbox.maxBytes'));
  } else {
    out.push(result('free space', 'ok', detail));
  }
  return out;
}

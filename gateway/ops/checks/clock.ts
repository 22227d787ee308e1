import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TIMESYNC_FLAG_FILE } from '../../core/clock.js';
import { result, type CheckContext, type CheckResult } from './types.js';

export interface ClockDeps {
  flagExists?: (path: string) => boolean;
  /** Output of `timedatectl show -p NTPSynchronized --value`; rejects when timedatectl is missing. */
  timedatectl?: () => Promise<string>;
}

function runTimedatectl(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
  });
}

/** The wall clock is NTP-synchronised (a Pi has no RTC: after a power cut the clock is wrong until NTP syncs). */
export async function checkClock(ctx: CheckContext, deps: ClockDeps = {}): Promise<CheckResult> {
  if (ctx.loaded.config.gateway.assumeClockSynced) return result('clock', 'ok', 'gateway.assumeClockSynced is true: the clock is trusted without checking');
  if ((deps.flagExists ?? existsSync)(TIMESYNC_FLAG_FILE)) return result('clock', 'ok', `synchronised (${TIMESYNC_FLAG_FILE} present)`);
  let answer: string | undefined;
  try {
    answer = await (deps.timedatectl ?? runTimedatectl)();
  } catch {
    answer = undefined;
  }
  if (answer === 'yes') return result('clock', 'ok', 'synchronised (timedatectl NTPSynchronized=yes)');
  return result(
    'clock',
    'warn',
    answer === undefined ? `cannot tell: no ${TIMESYNC_FLAG_FILE} and no timedatectl` : 'not synchronised (timedatectl NTPSynchronized=no)',
    'enable time sync (timedatectl set-ntp true; systemd-timesyncd or chrony) and allow UDP 123 out; until then events are flagged clock-unsynced',
  );
}

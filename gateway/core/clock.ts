import { existsSync } from 'node:fs';

/**
 * Time as the gateway sees it. Durations (timeouts, dwell, pulse lengths) use
 * `monotonic()`, never the wall clock: a Raspberry Pi has no RTC and its wall
 * clock may jump when NTP syncs after a power cut (DESIGN.md "Firmware-style habits").
 */
export interface Clock {
  /** Wall-clock time, ms since the Unix epoch. May be wrong until `isSynced()`. */
  now(): number;
  /** Monotonic time in ms (arbitrary origin); only differences are meaningful. */
  monotonic(): number;
  /** True when the wall clock is known to be synchronised (NTP). */
  isSynced(): boolean;
}

/**
 * systemd-timesyncd touches this file once the clock is synchronised;
 * chrony/ntpd setups can point `syncFlagFile` elsewhere or force `assumeSynced`.
 */
export const TIMESYNC_FLAG_FILE = '/run/systemd/timesync/synchronized';

export interface SystemClockOptions {
  /** Treat the clock as synchronised whatever the flag file says (containers, dev machines). */
  assumeSynced?: boolean;
  syncFlagFile?: string;
  /** How often to re-check the flag file; checking on every call would cost a stat() per decision. */
  recheckMs?: number;
}

export function systemClock(options: SystemClockOptions = {}): Clock {
  const flag = options.syncFlagFile ?? TIMESYNC_FLAG_FILE;
  const recheckMs = options.recheckMs ?? 10_000;
  let synced = options.assumeSynced ?? existsSync(flag);
  let checkedAt = performance.now();
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    isSynced: () => {
      if (options.assumeSynced) return true;
      const t = performance.now();
      if (t - checkedAt > recheckMs) {
        checkedAt = t;
        synced = existsSync(flag);
      }
      return synced;
    },
  };
}

import type { LoadedConfig } from '../../../config/load.js';

/** `skip`: the check does not apply to this config (no such device configured, no cache yet). */
export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip';

/** One line of `gatehouse doctor`: what was checked, what was found and, when not ok, the fix. */
export interface CheckResult {
  name: string;
  level: CheckLevel;
  detail: string;
  fix?: string;
}

/** What every check after "config valid" gets: the loaded config and its resolved data directory. */
export interface CheckContext {
  loaded: LoadedConfig;
  /** `storage.dataDir` resolved against the config file's directory. */
  dataDir: string;
  /** Wall-clock ms (injected so certificate and cache ages are testable). */
  now: number;
  /** A gateway with this config is running here: the ports and serial devices it holds are busy on purpose. */
  gatewayRunning?: boolean;
}

export function result(name: string, level: CheckLevel, detail: string, fix?: string): CheckResult {
  return fix === undefined ? { name, level, detail } : { name, level, detail, fix };
}

/** The error code (ENOENT, EACCES...) or message of a thrown value, for one-line details. */
export function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code && e.message && !e.message.includes(e.code)) return `${e.code}: ${e.message}`;
  return e?.message ?? String(err);
}

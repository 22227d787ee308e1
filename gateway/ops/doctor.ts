import { resolveFromConfig } from '../../config/secrets.js';
import { checkBle, type BleDeps } from './checks/ble.js';
import { checkCentral, type CentralDeps } from './checks/central.js';
import { checkClock, type ClockDeps } from './checks/clock.js';
import { checkAdminExposure, checkConfig, checkSecrets } from './checks/config.js';
import { checkDataDir, type DataDirDeps } from './checks/data-dir.js';
import { checkEntitlements } from './checks/entitlements.js';
import { checkGpio, type GpioDeps } from './checks/gpio.js';
import { checkHid, type HidDeps } from './checks/hid.js';
import { checkPorts, type PortDeps } from './checks/ports.js';
import { checkRunningGateway, type RunningDeps } from './checks/running.js';
import { checkSerialPorts, type SerialDeps } from './checks/serial.js';
import { checkTls } from './checks/tls.js';
import type { CheckContext, CheckLevel, CheckResult } from './checks/types.js';

export type { CheckLevel, CheckResult } from './checks/types.js';

/** Replaceable pieces of each check (tests pass fakes; the CLI passes nothing). */
export interface DoctorDeps {
  now?: () => number;
  dataDir?: DataDirDeps;
  serial?: SerialDeps;
  gpio?: GpioDeps;
  ble?: BleDeps;
  hid?: HidDeps;
  ports?: PortDeps;
  running?: RunningDeps;
  central?: CentralDeps;
  clock?: ClockDeps;
}

export interface DoctorReport {
  ok: boolean;
  counts: Record<CheckLevel, number>;
  checks: CheckResult[];
}

/**
 * Runs every check against one config file, in the order an operator fixes
 * things: config first (nothing else can run without it), then the machine,
 * then the network. A check that throws becomes a `fail` line, never a crash.
 */
export async function runDoctor(configFile: string, deps: DoctorDeps = {}): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const config = checkConfig(configFile);
  checks.push(config.check);
  if (config.loaded) {
    const loaded = config.loaded;
    const ctx: CheckContext = { loaded, dataDir: resolveFromConfig(loaded.baseDir, loaded.config.storage.dataDir), now: (deps.now ?? Date.now)() };
    const running = await checkRunningGateway(loaded, deps.running);
    checks.push(running.check);
    ctx.gatewayRunning = running.running;
    const steps: Array<[string, () => CheckResult | CheckResult[] | Promise<CheckResult | CheckResult[]>]> = [
      ['secrets', () => checkSecrets(loaded)],
      ['admin exposure', () => checkAdminExposure(loaded)],
      ['data directory', () => checkDataDir(ctx, deps.dataDir)],
      ['serial ports', () => checkSerialPorts(ctx, deps.serial)],
      ['gpio', () => checkGpio(ctx, deps.gpio)],
      ['ble', () => checkBle(ctx, deps.ble)],
      ['hid', () => checkHid(ctx, deps.hid)],
      ['ports', () => checkPorts(ctx, deps.ports)],
      ['tls', () => checkTls(ctx)],
      ['central', () => checkCentral(ctx, deps.central)],
      ['clock', () => checkClock(ctx, deps.clock)],
      ['entitlements', () => checkEntitlements(ctx)],
    ];
    for (const [name, step] of steps) {
      try {
        const r = await step();
        checks.push(...(Array.isArray(r) ? r : [r]));
      } catch (err) {
        checks.push({ name, level: 'fail', detail: `the check itself failed: ${(err as Error).message}`, fix: 'report this as a bug with the output of gatehouse doctor --json' });
      }
    }
  }
  const counts: Record<CheckLevel, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) counts[c.level]++;
  return { ok: counts.fail === 0, counts, checks };
}

const MARK: Record<CheckLevel, string> = { ok: 'ok  ', warn: 'warn', fail: 'fail', skip: 'skip' };

/** One line per check: `LEVEL name: detail` and, when there is one, `-> fix`. */
export function formatReport(report: DoctorReport): string {
  const lines = report.checks.map((c) => `${MARK[c.level]} ${c.name}: ${c.detail}${c.fix && c.level !== 'ok' ? `\n       -> ${c.fix}` : ''}`);
  const { ok, warn, fail, skip } = report.counts;
  lines.push(`${fail === 0 ? 'healthy' : 'NOT healthy'}: ${ok} ok, ${warn} warn, ${fail} fail, ${skip} skipped`);
  return lines.join('\n') + '\n';
}

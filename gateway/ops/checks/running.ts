import { request } from 'undici';
import type { LoadedConfig } from '../../../config/load.js';
import { result, type CheckResult } from './types.js';

export interface RunningDeps {
  /** GETs the URL and resolves to status and body; rejects when nothing answers. */
  get?: (url: string, timeoutMs: number) => Promise<{ status: number; body: string }>;
}

async function undiciGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const res = await request(url, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.statusCode, body: await res.body.text() };
}

/** Where this machine reaches the admin port the config binds. */
export function adminProbeUrl(host: string, port: number): string {
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}/healthz`;
}

/**
 * Whether a gateway with this config is already running here (its admin port
 * answers /healthz). Doctor then expects its ports and serial devices to be
 * held and says so instead of failing.
 */
export async function checkRunningGateway(loaded: LoadedConfig, deps: RunningDeps = {}): Promise<{ check: CheckResult; running: boolean }> {
  const { host, port } = loaded.config.admin;
  if (port === 0) return { check: result('gateway process', 'skip', 'admin.port is 0: cannot tell whether a gateway is running'), running: false };
  const url = adminProbeUrl(host, port);
  try {
    const res = await (deps.get ?? undiciGet)(url, 1500);
    const body = JSON.parse(res.body) as { status?: unknown };
    if ((res.status === 200 || res.status === 503) && (body.status === 'ok' || body.status === 'degraded')) {
      return { check: result('gateway process', 'ok', `a gateway is running here (${url} answers "${body.status}"): ports and serial devices it holds are expected to be busy`), running: true };
    }
  } catch {
    // Nothing answers, or something that is not a gateway: not running.
  }
  return { check: result('gateway process', 'ok', 'no gateway is running with this config (its ports should be free)'), running: false };
}

import { request } from 'undici';
import { readSecretText } from '../../../config/secrets.js';
import { isPlaceholderSecret } from '../provision.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface CentralDeps {
  /** Sends the probe and resolves to the HTTP status (tests inject a fake). */
  probe?: (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<number>;
  timeoutMs?: number;
}

async function undiciProbe(url: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const res = await request(url, { method: 'HEAD', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
  await res.body.dump();
  return res.statusCode;
}

/** The URL the probe asks: the gateway's entitlement snapshot, which needs the gateway's token (HEAD, so no snapshot is sent). */
export function probeUrl(baseUrl: string, gatewayId: string): string {
  return new URL(`v1/gateways/${encodeURIComponent(gatewayId)}/entitlements/snapshot`, baseUrl.endsWith('/') ? baseUrl : baseUrl + '/').toString();
}

/** The central API answers and accepts the gateway's token. */
export async function checkCentral(ctx: CheckContext, deps: CentralDeps = {}): Promise<CheckResult> {
  const { central, gateway } = ctx.loaded.config;
  if (!central) return result('central', 'skip', 'no central section: the gateway runs stand-alone (no sync)');
  const headers: Record<string, string> = {};
  if (central.token) {
    let token: string;
    try {
      token = readSecretText(central.token, ctx.loaded.baseDir);
    } catch (err) {
      return result('central', 'fail', `the central token cannot be read: ${reasonOf(err)}`, 'see the secret central.token line above');
    }
    if (isPlaceholderSecret(token)) return result('central', 'fail', 'the central token is still the provisioning placeholder', 'ask the central team for this gateway\'s token and put it in the token file');
    headers.authorization = `Bearer ${token}`;
  }
  const url = probeUrl(central.url, gateway.id);
  const timeoutMs = deps.timeoutMs ?? Math.min(central.timeoutMs, 5000);
  let status: number;
  try {
    status = await (deps.probe ?? undiciProbe)(url, headers, timeoutMs);
  } catch (err) {
    return result('central', 'fail', `${central.url} is unreachable: ${reasonOf(err)}`, 'check DNS, routing and firewall from the venue (curl -I ' + central.url + '); access keeps working offline and events wait in the outbox');
  }
  if (status === 401 || status === 403) return result('central', 'fail', `${central.url} refused the token (HTTP ${status})`, 'the token is wrong or revoked: ask the central team for a new one');
  if (status === 404) return result('central', 'fail', `${central.url} does not know gateway ${gateway.id} (HTTP 404)`, 'check central.url (no /v1 suffix) and that the gateway id is registered centrally');
  if (status >= 500) return result('central', 'warn', `${central.url} answered HTTP ${status}`, 'the central side has a problem; the gateway retries with backoff');
  return result('central', 'ok', `${central.url} reachable, token accepted (HTTP ${status})`);
}

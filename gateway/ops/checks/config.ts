import { formatProblem, loadConfigFile, type LoadedConfig } from '../../../config/load.js';
import { readSecret, resolveFromConfig } from '../../../config/secrets.js';
import type { SecretRef } from '../../../config/common.js';
import { isPlaceholderSecret } from '../provision.js';
import { reasonOf, result, type CheckResult } from './types.js';

const MIN_CREDENTIAL_KEY_BYTES = 32;

/** Validates the config file exactly as `gatehouse config validate` does. */
export function checkConfig(file: string): { check: CheckResult; loaded?: LoadedConfig } {
  const r = loadConfigFile(file);
  if (r.ok) return { check: result('config', 'ok', `${file} is valid (gateway ${r.value.config.gateway.id})`), loaded: r.value };
  const first = r.problems[0];
  const more = r.problems.length > 1 ? ` (+${r.problems.length - 1} more)` : '';
  return {
    check: result('config', 'fail', `${first ? formatProblem(first) : file}${more}`, `run \`gatehouse config validate ${file}\` for every problem and fix them`),
  };
}

/** Every secret the config names can be read, the credential key is long enough and no placeholder is left. */
export function checkSecrets(loaded: LoadedConfig): CheckResult[] {
  const { config, baseDir } = loaded;
  const refs: Array<{ name: string; ref: SecretRef; minBytes?: number }> = [{ name: 'secrets.credentialKey', ref: config.secrets.credentialKey, minBytes: MIN_CREDENTIAL_KEY_BYTES }];
  if (config.central?.token) refs.push({ name: 'central.token', ref: config.central.token });
  if (config.central?.publicKey) refs.push({ name: 'central.publicKey', ref: config.central.publicKey });
  if (config.admin.token) refs.push({ name: 'admin.token', ref: config.admin.token });
  return refs.map(({ name, ref, minBytes }) => {
    const where = 'file' in ref ? resolveFromConfig(baseDir, ref.file) : `$${ref.env}`;
    let value: Buffer;
    try {
      value = readSecret(ref, baseDir);
    } catch (err) {
      const fix = 'file' in ref ? `create ${where} (gatehouse provision) and make it readable by the gatehouse user (chown gatehouse, chmod 0600)` : `set ${ref.env} in the service environment (/etc/gatehouse/gatehouse.env)`;
      return result(`secret ${name}`, 'fail', reasonOf(err), fix);
    }
    if (isPlaceholderSecret(value.toString('utf8'))) {
      return result(`secret ${name}`, 'fail', `${where} still holds the placeholder written by gatehouse provision`, `replace the content of ${where} with the real secret from the central team`);
    }
    if (minBytes !== undefined && value.length < minBytes) {
      return result(`secret ${name}`, 'fail', `${where} holds ${value.length} bytes, at least ${minBytes} are needed`, 'generate a new key with `gatehouse provision` (then re-sync entitlements)');
    }
    return result(`secret ${name}`, 'ok', `${where} readable`);
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The admin port (status page, /metrics, /api/status) is on loopback, or protected by a token. */
export function checkAdminExposure(loaded: LoadedConfig): CheckResult {
  const { host, port, token } = loaded.config.admin;
  if (LOOPBACK.has(host) || host.startsWith('127.')) return result('admin exposure', 'ok', `admin port ${host}:${port} is reachable from this machine only (ssh -L ${port}:127.0.0.1:${port} to view it)`);
  if (token) return result('admin exposure', 'ok', `admin port ${host}:${port} is on the network and requires the admin token`);
  return result(
    'admin exposure',
    'fail',
    `admin port ${host}:${port} is on the network without a token: anyone on the venue LAN can read the status page, /api/status and /metrics`,
    'set admin.token: { file: secrets/admin.token } (any long random string, e.g. openssl rand -hex 32) or bind admin.host: 127.0.0.1',
  );
}

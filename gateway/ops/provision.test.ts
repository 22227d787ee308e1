import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../config/load.js';
import { readSecret } from '../../config/secrets.js';
import { isGatehouseError } from '../errors.js';
import { configTemplate, isPlaceholderSecret, provisionGateway } from './provision.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gh-provision-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('provisionGateway', () => {
  it('writes a 32-byte hex credential key and a marked token placeholder, mode 0600 in a 0700 secrets dir', () => {
    const out = join(tempDir(), 'gw');
    const r = provisionGateway({ gatewayId: 'north-1', outDir: out, random: () => Buffer.alloc(32, 0xab) });
    const key = readFileSync(join(out, 'secrets/credential.key'), 'utf8');
    expect(key).toBe('ab'.repeat(32) + '\n');
    const token = readFileSync(join(out, 'secrets/central.token'), 'utf8');
    expect(isPlaceholderSecret(token)).toBe(true);
    expect(token).toContain('north-1');
    expect(mode(join(out, 'secrets'))).toBe(0o700);
    expect(mode(join(out, 'secrets/credential.key'))).toBe(0o600);
    expect(mode(join(out, 'secrets/central.token'))).toBe(0o600);
    expect(r.files.map((f) => f.kind)).toEqual(['secret', 'placeholder', 'config']);
  });

  it('uses real randomness by default: two gateways never share a key', () => {
    const a = join(tempDir(), 'a');
    const b = join(tempDir(), 'b');
    provisionGateway({ gatewayId: 'a', outDir: a });
    provisionGateway({ gatewayId: 'b', outDir: b });
    const ka = readFileSync(join(a, 'secrets/credential.key'), 'utf8');
    expect(ka).toMatch(/^[0-9a-f]{64}\n$/);
    expect(ka).not.toBe(readFileSync(join(b, 'secrets/credential.key'), 'utf8'));
  });

  it('writes a config the loader accepts, with the chosen id and a key the access engine can use', () => {
    const out = tempDir();
    const r = provisionGateway({ gatewayId: 'stadium-east', outDir: out });
    const loaded = loadConfigFile(r.configFile);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.config.gateway.id).toBe('stadium-east');
    expect(loaded.value.config.central).toBeUndefined();
    expect(readSecret(loaded.value.config.secrets.credentialKey, loaded.value.baseDir).length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(r.configFile, 'utf8')).toContain('$schema=./gatehouse.schema.json');
    expect(JSON.parse(readFileSync(r.schemaFile, 'utf8'))).toHaveProperty('title', 'Gatehouse gateway config');
  });

  it('with --central-url the config names the central API and the token file', () => {
    const out = tempDir();
    const r = provisionGateway({ gatewayId: 'gw1', outDir: out, centralUrl: 'https://crm.example.com/api', dataDir: './data' });
    const loaded = loadConfigFile(r.configFile);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.config.central?.url).toBe('https://crm.example.com/api');
    expect(loaded.value.config.central?.token).toEqual({ file: 'secrets/central.token' });
    expect(loaded.value.config.storage.dataDir).toBe('./data');
  });

  it('refuses to overwrite an existing secret without force and leaves every file untouched', () => {
    const out = tempDir();
    mkdirSync(join(out, 'secrets'));
    writeFileSync(join(out, 'secrets/credential.key'), 'old-key\n');
    let caught: unknown;
    try {
      provisionGateway({ gatewayId: 'gw1', outDir: out });
    } catch (err) {
      caught = err;
    }
    expect(isGatehouseError(caught, 'GH_PROVISION_EXISTS')).toBe(true);
    expect(readFileSync(join(out, 'secrets/credential.key'), 'utf8')).toBe('old-key\n');
    expect(() => statSync(join(out, 'secrets/central.token'))).toThrow();
    expect(() => statSync(join(out, 'gatehouse.yaml'))).toThrow();
  });

  it('overwrites with force and tightens loose permissions', () => {
    const out = tempDir();
    mkdirSync(join(out, 'secrets'), { mode: 0o755 });
    writeFileSync(join(out, 'secrets/credential.key'), 'old-key\n', { mode: 0o644 });
    provisionGateway({ gatewayId: 'gw1', outDir: out, force: true, random: () => Buffer.alloc(32, 1) });
    expect(readFileSync(join(out, 'secrets/credential.key'), 'utf8')).toBe('01'.repeat(32) + '\n');
    expect(mode(join(out, 'secrets/credential.key'))).toBe(0o600);
    expect(mode(join(out, 'secrets'))).toBe(0o700);
  });

  it('rejects a gateway id the schema would reject and a non-http central URL', () => {
    const out = tempDir();
    expect(() => provisionGateway({ gatewayId: 'North 1', outDir: out })).toThrow(/gateway id/);
    expect(() => provisionGateway({ gatewayId: 'gw', outDir: out, centralUrl: 'ftp://x' })).toThrow(/http/);
    expect(() => provisionGateway({ gatewayId: 'gw', outDir: out, centralUrl: 'not a url' })).toThrow(/http/);
  });

  it('template without a central URL keeps the central section as a comment', () => {
    expect(configTemplate({ gatewayId: 'x' })).toMatch(/^# central:/m);
    expect(configTemplate({ gatewayId: 'x', centralUrl: 'http://c' })).toMatch(/^central:/m);
  });
});

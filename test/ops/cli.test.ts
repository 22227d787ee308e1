import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { configYaml, opsFixture, type OpsFixture } from './helpers.js';

/**
 * The real `gatehouse` binary as an operator runs it: exit codes, stderr
 * without stack traces, files on disk. Option-by-option behaviour is covered
 * in process (gateway/cli/commands/*.test.ts); each spawn here costs seconds.
 */
let fx: OpsFixture;
beforeEach(() => {
  fx = opsFixture();
});
afterEach(() => fx.cleanup());

describe('gatehouse provision (CLI)', () => {
  it('provisions a config that validates, then refuses a second run with GH_PROVISION_EXISTS and exit 2', async () => {
    const out = join(fx.dir, 'new-gw');
    const first = await runCli(['provision', '--gateway-id', 'gw-7', '--out', out, '--data-dir', './data']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('placeholder');
    const key = readFileSync(join(out, 'secrets/credential.key'), 'utf8');
    expect(statSync(join(out, 'secrets/credential.key')).mode & 0o777).toBe(0o600);

    const again = await runCli(['provision', '--gateway-id', 'gw-7', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('GH_PROVISION_EXISTS');
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(out, 'secrets/credential.key'), 'utf8')).toBe(key);
  });
});

describe('gatehouse doctor (CLI)', () => {
  it('prints one line per check and exits 1 with GH_DOCTOR_FAILED when a check fails', async () => {
    writeFileSync(join(fx.dir, 'secrets/central.token'), 'REPLACE_ME: token\n');
    writeFileSync(fx.configFile, configYaml('central:\n  url: http://127.0.0.1:1\n  token: { file: secrets/central.token }\nadmin:\n  port: 0'));
    const r = await runCli(['doctor', '--config', fx.configFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ok {3}config: /m);
    expect(r.stdout).toMatch(/^fail secret central\.token: .*placeholder/m);
    expect(r.stdout).toMatch(/^NOT healthy/m);
    expect(r.stderr).toMatch(/^GH_DOCTOR_FAILED: \d+ check\(s\) failed/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

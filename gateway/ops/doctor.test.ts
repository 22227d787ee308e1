import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configYaml, opsFixture, type OpsFixture } from '../../test/ops/helpers.js';
import { formatReport, runDoctor, type DoctorDeps } from './doctor.js';

let fx: OpsFixture;
beforeEach(() => {
  fx = opsFixture();
});
afterEach(() => fx.cleanup());

/** Fakes for everything that touches the machine, so the report depends only on the config. */
const quietMachine: DoctorDeps = {
  now: () => Date.parse('2026-06-01T00:00:00Z'),
  dataDir: { statfs: () => ({ available: 8 * 1024 ** 3, total: 16 * 1024 ** 3 }) },
  ports: { tryListen: async () => {} },
  clock: { flagExists: () => true },
  central: { probe: async () => 200 },
  running: { get: () => Promise.reject(new Error('ECONNREFUSED')) },
};

describe('runDoctor', () => {
  it('stops after a failed config check: nothing else can be judged', async () => {
    writeFileSync(fx.configFile, 'gateway: [');
    const report = await runDoctor(fx.configFile, quietMachine);
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => c.name)).toEqual(['config']);
  });

  it('a minimal valid config on a healthy machine is ok, with skipped checks for absent hardware', async () => {
    writeFileSync(fx.configFile, configYaml());
    const report = await runDoctor(fx.configFile, quietMachine);
    expect(report.ok).toBe(true);
    expect(report.counts.fail).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(['config', 'gateway process', 'secret secrets.credentialKey', 'admin exposure', 'data directory', 'free space', 'serial ports', 'gpio', 'ble', 'hid', 'port admin', 'tls', 'central', 'clock', 'entitlements']);
    expect(formatReport(report)).toMatch(/^healthy: \d+ ok, 0 warn, 0 fail, \d+ skipped$/m);
  });

  it('a failing check makes the report not ok and prints its fix', async () => {
    writeFileSync(join(fx.dir, 'secrets/central.token'), 'tok\n');
    writeFileSync(fx.configFile, configYaml('central:\n  url: http://central.example\n  token: { file: secrets/central.token }'));
    const report = await runDoctor(fx.configFile, { ...quietMachine, central: { probe: async () => 401 } });
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text).toMatch(/^fail central: .*refused the token/m);
    expect(text).toMatch(/^ {7}-> the token is wrong or revoked/m);
    expect(text).toMatch(/^NOT healthy: .* 1 fail/m);
  });

  it('a check that throws becomes a fail line instead of ending the run', async () => {
    writeFileSync(fx.configFile, configYaml());
    const report = await runDoctor(fx.configFile, { ...quietMachine, clock: { flagExists: () => { throw new Error('kaput'); } } });
    const line = report.checks.find((c) => c.name === 'clock');
    expect(line).toMatchObject({ level: 'fail', detail: expect.stringContaining('kaput') });
    expect(report.checks.at(-1)?.name).toBe('entitlements');
  });
});

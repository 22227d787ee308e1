import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configYaml, opsFixture, type OpsFixture } from '../../../test/ops/helpers.js';
import { main } from '../main.js';

let fx: OpsFixture;
let out: string;
let err: string;
beforeEach(() => {
  fx = opsFixture();
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  fx.cleanup();
});

describe('gatehouse doctor (in process)', () => {
  it('doctor prints the report, exits 0 when nothing fails and 1 with GH_DOCTOR_FAILED otherwise', async () => {
    writeFileSync(fx.configFile, configYaml('admin:\n  port: 0\n').replace('  id: test-gw', '  id: test-gw\n  assumeClockSynced: true'));
    expect(await main(['doctor', '--config', fx.configFile])).toBe(0);
    expect(out).toMatch(/^healthy: /m);
    out = '';
    expect(await main(['doctor', '--config', fx.configFile, '--json'])).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, counts: { fail: 0 } });
    writeFileSync(fx.configFile, 'gateway: {}\n');
    expect(await main(['doctor', '--config', fx.configFile])).toBe(1);
    expect(err).toContain('GH_DOCTOR_FAILED: 1 check(s) failed');
    expect(await main(['doctor'])).toBe(2);
    expect(err).toContain("required option '-c, --config <file>'");
  });
});

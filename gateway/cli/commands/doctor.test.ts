import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configYaml, opsFixture, type OpsFixture } from '../../../test/ops/helpers.js';
import { main } from '../main.js';
import { captureOutput, type CapturedOutput } from '../../../test/helpers/capture-output.js';

let fx: OpsFixture;
let io: CapturedOutput;
beforeEach(() => {
  fx = opsFixture();
  io = captureOutput();
});
afterEach(() => {
  vi.restoreAllMocks();
  fx.cleanup();
});

describe('gatehouse doctor (in process)', () => {
  it('doctor prints the report, exits 0 when nothing fails and 1 with GH_DOCTOR_FAILED otherwise', async () => {
    writeFileSync(fx.configFile, configYaml('admin:\n  port: 0\n').replace('  id: test-gw', '  id: test-gw\n  assumeClockSynced: true'));
    expect(await main(['doctor', '--config', fx.configFile])).toBe(0);
    expect(io.out).toMatch(/^healthy: /m);
    io.clear();
    expect(await main(['doctor', '--config', fx.configFile, '--json'])).toBe(0);
    expect(JSON.parse(io.out)).toMatchObject({ ok: true, counts: { fail: 0 } });
    writeFileSync(fx.configFile, 'gateway: {}\n');
    expect(await main(['doctor', '--config', fx.configFile])).toBe(1);
    expect(io.err).toContain('GH_DOCTOR_FAILED: 1 check(s) failed');
    expect(await main(['doctor'])).toBe(2);
    expect(io.err).toContain("required option '-c, --config <file>'");
  });
});

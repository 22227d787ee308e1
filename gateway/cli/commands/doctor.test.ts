import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configYaml } from '../../../test/ops/helpers.js';
import { useInProcessCli } from '../../../test/helpers/in-process-cli.js';
import { main } from '../main.js';

const cli = useInProcessCli();

describe('gatehouse doctor (in process)', () => {
  it('doctor prints the report, exits 0 when nothing fails and 1 with GH_DOCTOR_FAILED otherwise', async () => {
    writeFileSync(cli.fx.configFile, configYaml('admin:\n  port: 0\n').replace('  id: test-gw', '  id: test-gw\n  assumeClockSynced: true'));
    expect(await main(['doctor', '--config', cli.fx.configFile])).toBe(0);
    expect(cli.io.out).toMatch(/^healthy: /m);
    cli.io.clear();
    expect(await main(['doctor', '--config', cli.fx.configFile, '--json'])).toBe(0);
    expect(JSON.parse(cli.io.out)).toMatchObject({ ok: true, counts: { fail: 0 } });
    writeFileSync(cli.fx.configFile, 'gateway: {}\n');
    expect(await main(['doctor', '--config', cli.fx.configFile])).toBe(1);
    expect(cli.io.err).toContain('GH_DOCTOR_FAILED: 1 check(s) failed');
    expect(await main(['doctor'])).toBe(2);
    expect(cli.io.err).toContain("required option '-c, --config <file>'");
  });
});

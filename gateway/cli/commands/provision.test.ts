import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useInProcessCli } from '../../../test/helpers/in-process-cli.js';
import { main } from '../main.js';

const cli = useInProcessCli();

describe('gatehouse provision (in process)', () => {
  it('provision writes the files and names the placeholder; a second run exits 2 with GH_PROVISION_EXISTS', async () => {
    const dir = join(cli.fx.dir, 'gw');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir, '--central-url', 'https://c.example'])).toBe(0);
    expect(cli.io.out).toMatch(/central\.token \(mode 0600\) {2}<- placeholder/);
    expect(readFileSync(join(dir, 'gatehouse.yaml'), 'utf8')).toContain('url: "https://c.example"');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir])).toBe(2);
    expect(cli.io.err).toContain('GH_PROVISION_EXISTS');
    expect(await main(['provision', '--gateway-id', 'Bad Id', '--out', dir])).toBe(2);
    expect(cli.io.err).toContain('usage: gatehouse provision');
    expect(await main(['provision', '--out', dir])).toBe(2);
    const key = readFileSync(join(dir, 'secrets/credential.key'), 'utf8');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir, '--force'])).toBe(0);
    expect(readFileSync(join(dir, 'secrets/credential.key'), 'utf8')).not.toBe(key);
    cli.io.clear();
    expect(await main(['provision', '--help'])).toBe(0);
    expect(cli.io.out).toContain('--central-url');
  });
});

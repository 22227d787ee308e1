import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { opsFixture, type OpsFixture } from '../../../test/ops/helpers.js';
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

describe('gatehouse provision (in process)', () => {
  it('provision writes the files and names the placeholder; a second run exits 2 with GH_PROVISION_EXISTS', async () => {
    const dir = join(fx.dir, 'gw');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir, '--central-url', 'https://c.example'])).toBe(0);
    expect(io.out).toMatch(/central\.token \(mode 0600\) {2}<- placeholder/);
    expect(readFileSync(join(dir, 'gatehouse.yaml'), 'utf8')).toContain('url: "https://c.example"');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir])).toBe(2);
    expect(io.err).toContain('GH_PROVISION_EXISTS');
    expect(await main(['provision', '--gateway-id', 'Bad Id', '--out', dir])).toBe(2);
    expect(io.err).toContain('usage: gatehouse provision');
    expect(await main(['provision', '--out', dir])).toBe(2);
    const key = readFileSync(join(dir, 'secrets/credential.key'), 'utf8');
    expect(await main(['provision', '--gateway-id', 'gw-1', '--out', dir, '--force'])).toBe(0);
    expect(readFileSync(join(dir, 'secrets/credential.key'), 'utf8')).not.toBe(key);
    io.clear();
    expect(await main(['provision', '--help'])).toBe(0);
    expect(io.out).toContain('--central-url');
  });
});

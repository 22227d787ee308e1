import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { useInProcessCli } from './in-process-cli.js';

const cli = useInProcessCli();
let firstDir = '';

describe('useInProcessCli', () => {
  it('gives a test a fixture dir with its credential key and captures stdout and stderr', () => {
    firstDir = cli.fx.dir;
    expect(existsSync(`${firstDir}/secrets/credential.key`)).toBe(true);
    process.stdout.write('out line\n');
    process.stderr.write('err line\n');
    expect(cli.io.out).toBe('out line\n');
    expect(cli.io.err).toBe('err line\n');
  });

  it("removes the previous test's dir and starts the next test with a new one and empty output", () => {
    expect(firstDir).not.toBe('');
    expect(existsSync(firstDir)).toBe(false);
    expect(cli.fx.dir).not.toBe(firstDir);
    expect(cli.io.out).toBe('');
  });
});

afterAll(() => {
  // After the last test's afterEach: stdout is the real one again, and fx/io are gone.
  expect(vi.isMockFunction(process.stdout.write)).toBe(false);
  expect(() => cli.fx).toThrow(/only while a test runs/);
});

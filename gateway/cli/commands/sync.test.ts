import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startCentralStandIn, type CentralStandIn } from '../../../scripts/central/index.js';
import { runCli } from '../../../test/helpers/cli.js';
import { main } from '../main.js';

const SECRETS = resolve('config/examples/secrets');

/** Runs `gatehouse ...` in this process (so coverage sees it), capturing what it prints. */
async function gatehouse(args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('gatehouse sync pull', () => {
  let dir: string;
  let central: CentralStandIn;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  const writeConfig = (url: string) => {
    const demo = readFileSync('config/examples/demo.yaml', 'utf8')
      .replace(/url: http:\/\/127\.0\.0\.1:8787/, `url: ${url}`)
      .replace(/dataDir: .*/, `dataDir: ${join(dir, 'data')}`)
      .replace(/secrets\/demo-credential\.key/, join(SECRETS, 'demo-credential.key'))
      .replace(/secrets\/demo-central\.token/, join(SECRETS, 'demo-central.token'))
      .replace(/secrets\/demo-central\.pub\.pem/, join(dir, 'central.pub.pem'));
    writeFileSync(join(dir, 'central.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'gw.yaml'), demo);
    return join(dir, 'gw.yaml');
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-sync-cli-'));
    const token = readFileSync(join(SECRETS, 'demo-central.token'), 'utf8').trim();
    central = await startCentralStandIn({ token, signingKey: privateKey, entitlements: [{ holder: 'h1', credentials: [{ kind: 'card', value: '1:2' }] }, { holder: 'h2', credentials: [{ kind: 'card', value: '1:3' }, { kind: 'pin', value: '1234' }] }] });
  });
  afterEach(async () => {
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a signed snapshot into the entitlement store and prints counts as JSON (exit 0)', async () => {
    const r = await gatehouse(['sync', 'pull', '--config', writeConfig(central.url), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, verifyOnly: false, holders: 2, credentials: 3 });
  });

  it('verifies without touching the store with --verify-only, and says so in plain text', async () => {
    const r = await gatehouse(['sync', 'pull', '--config', writeConfig(central.url), '--verify-only']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^verified snapshot snap-\S+: 2 holders, 3 credentials/);
  });

  it('exits 1 with GH_DOWNLINK_SIGNATURE when the snapshot is not signed by the configured key', async () => {
    central.setFault({ kind: 'tamper', mode: 'bad_signature' });
    const r = await gatehouse(['sync', 'pull', '--config', writeConfig(central.url), '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'GH_DOWNLINK_SIGNATURE' });
  });

  it('exits 2 for a missing --config or an invalid config file', async () => {
    expect((await gatehouse(['sync', 'pull'])).code).toBe(2);
    writeFileSync(join(dir, 'bad.yaml'), 'gateway: {}\n');
    const r = await gatehouse(['sync', 'pull', '--config', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+:/);
  });
});

describe('gatehouse central', () => {
  it('exits 2 with a usage line for a bad port', async () => {
    const r = await gatehouse(['central', '--port', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: gatehouse central/);
  });

  it('serves the central API until it is told to stop', async () => {
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('../../../test/helpers/cli.js');
    const child = spawn(process.execPath, [BIN, 'central', '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]!);
      });
      child.once('exit', (c) => rej(new Error(`exited ${c}`)));
    });
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('prints help for sync pull with exit 0', async () => {
    const r = await runCli(['sync', 'pull', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--verify-only/);
  });
});

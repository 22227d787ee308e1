import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startCentralStandIn, type CentralStandIn } from '../../../scripts/central/index.js';
import { openOutbox } from '../../../sync/outbox/outbox.js';
import { runCli } from '../../../test/helpers/cli.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
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

describe('gatehouse sync requeue', () => {
  let dir: string;
  const writeConfig = (adminPort: number) => {
    const demo = readFileSync('config/examples/demo.yaml', 'utf8')
      .replace(/dataDir: .*/, `dataDir: ${join(dir, 'data')}`)
      .replace(/port: 9464/, `port: ${adminPort}`)
      .replace(/secrets\/demo-/g, `${SECRETS}/demo-`);
    writeFileSync(join(dir, 'gw.yaml'), demo);
    return join(dir, 'gw.yaml');
  };
  const outboxOf = () =>
    openOutbox({ path: join(dir, 'data', 'outbox.db'), maxBytes: 1e8, maxRows: 1e6, retentionHours: 1, groupCommitMs: 0, clock: systemClock(), log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
  const event = (id: string) => ({ specversion: '1.0' as const, id, source: 'gatehouse://gw/t', type: 'io.gatehouse.test', time: new Date(0).toISOString(), datacontenttype: 'application/json' as const, data: {} });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-requeue-cli-'));
    const box = outboxOf();
    for (const id of ['ev-1', 'ev-2', 'ev-3']) await box.append(event(id), 'access');
    const rows = box.peek(3);
    box.deadLetter(rows.slice(0, 2), 'GH_UPLINK_AUTH', 'HTTP 401: unknown token');
    box.deadLetter(rows.slice(2), 'GH_UPLINK_DEAD_LETTER', 'HTTP 422: bad event');
    await box.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('moves the dead letters with one code back into the outbox with their original ids (exit 0)', async () => {
    const r = await gatehouse(['sync', 'requeue', '--config', writeConfig(0), '--code', 'GH_UPLINK_AUTH', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, requeued: 2, left: 0, deadLetters: { GH_UPLINK_DEAD_LETTER: 1 } });
    const box = outboxOf();
    expect(box.peek(10).map((row) => row.id)).toEqual(['ev-1', 'ev-2']);
    await box.close();
    const all = await gatehouse(['sync', 'requeue', '--config', writeConfig(0), '--all']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe('requeued 1 dead letters\n');
  });

  it('exits 2 unless exactly one of --all and --code is given', async () => {
    expect((await gatehouse(['sync', 'requeue', '--config', writeConfig(0)])).code).toBe(2);
    const both = await gatehouse(['sync', 'requeue', '--config', writeConfig(0), '--all', '--code', 'GH_UPLINK_AUTH']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/usage: gatehouse sync requeue/);
  });

  it('refuses (exit 1) while a gateway with this config answers on its admin port, and leaves the dead letters', async () => {
    const admin = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    await new Promise<void>((res) => admin.listen(0, '127.0.0.1', res));
    try {
      const r = await gatehouse(['sync', 'requeue', '--config', writeConfig((admin.address() as AddressInfo).port), '--all']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/a gateway is running/);
    } finally {
      await new Promise((res) => admin.close(res));
    }
    const box = outboxOf();
    expect(box.stats().deadLetters).toBe(3);
    await box.close();
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

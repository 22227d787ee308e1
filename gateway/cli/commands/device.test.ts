import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { mqttDeviceSchema } from '../../../drivers/mqtt/config.js';
import { parsePasswordHash, verifyPassword } from '../../../drivers/mqtt/password.js';
import { main } from '../main.js';

/** Runs the CLI in-process, capturing what it prints. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('gatehouse device add', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-device-add-'));
    writeFileSync(
      join(dir, 'gw.yaml'),
      ['gateway: { id: venue-7 }', 'storage: { dataDir: data }', 'secrets: { credentialKey: { file: key } }', 'zones: [{ id: main }]', 'devices:', `  - { id: taken, driver: mqtt, type: reader, passwordHash: 'scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64url')}$${Buffer.alloc(32, 2).toString('base64url')}' }`, ''].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  it('prints a password once and a config entry whose scrypt hash verifies it', async () => {
    const r = await cli(['device', 'add', 'sign-1', '--type', 'sign', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { password: string; passwordHash: string; yaml: string; username: string; topicPrefix: string };
    expect(out.username).toBe('sign-1');
    expect(out.yaml).not.toContain(out.password);
    const [entry] = parse(out.yaml) as unknown[];
    const device = mqttDeviceSchema.parse(entry);
    expect(device).toMatchObject({ id: 'sign-1', driver: 'mqtt', type: 'sign' });
    expect(await verifyPassword(out.password, parsePasswordHash(device.passwordHash)!)).toBe(true);
  });

  it('prints a human snippet and takes the gateway id from --config', async () => {
    const r = await cli(['device', 'add', 'kiosk-2', '--type', 'kiosk', '--config', join(dir, 'gw.yaml')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('passwordHash: scrypt$4096$8$1$');
    expect(r.out).toContain('gatehouse/venue-7/kiosk-2/');
  });

  it.each([
    [['device', 'add', 'Bad Name', '--type', 'sign'], /GH_USAGE/],
    [['device', 'add', 'x', '--type', 'turnstile'], /--type must be one of/],
    [['device', 'add', 'x'], /required option/],
    [['device', 'add', 'taken', '--type', 'reader', '--config', 'CONFIG'], /already exists/],
    [['device', 'add', 'x', '--type', 'reader', '--config', '/nonexistent/gw.yaml'], /file not found/],
  ])('exits 2 with a reason for %j', async (args, why) => {
    const r = await cli(args.map((a) => (a === 'CONFIG' ? join(dir, 'gw.yaml') : a)));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(why);
    expect(r.out).not.toMatch(/password:/);
  });
});

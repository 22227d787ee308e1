import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { centralSchema } from '../config/sections/central.js';
import { readCentralTls, transportFromConfig } from './config.js';

describe('central config -> uplink transport', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gh-sync-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to HTTP with the documented defaults', async () => {
    const c = centralSchema.parse({ url: 'http://127.0.0.1:1' });
    expect(c).toMatchObject({ transport: 'http', batchSize: 500, pollTimeoutMs: 25_000, maxBackoffMs: 60_000 });
    const t = transportFromConfig(c, 'gw1', dir);
    expect(t.name).toBe('http');
    await t.close();
  });

  it('refuses transport mqtt without an mqtt section', () => {
    const r = centralSchema.safeParse({ url: 'http://x', transport: 'mqtt' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['mqtt']);
  });

  it('builds an MQTT transport with the gateway id in the topic and reads the password secret', async () => {
    writeFileSync(join(dir, 'pw'), 'hunter2\n');
    const c = centralSchema.parse({ url: 'http://x', transport: 'mqtt', mqtt: { url: 'mqtt://127.0.0.1:1', password: { file: 'pw' }, username: 'u' } });
    expect(c.mqtt?.topic).toBe('gatehouse/{gateway}/events');
    const t = transportFromConfig(c, 'gw1', dir);
    expect(t.name).toBe('mqtt');
    expect(t.connected()).toBe(false);
    const r = await t.send({ rows: [], key: 'k' });
    expect(r).toMatchObject({ ok: false, retryable: true, code: 'GH_UPLINK_MQTT' });
    await t.close();
  });

  it('reads TLS files relative to the config file', () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    const c = centralSchema.parse({ url: 'https://x', tls: { ca: 'ca.pem' } });
    expect(readCentralTls(c, dir)).toEqual({ ca: Buffer.from('CA') });
    expect(readCentralTls(centralSchema.parse({ url: 'https://x' }), dir)).toBeUndefined();
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, connect, deviceConfig, eventually, nextMessage, startHarness, subscribe, type Harness } from './harness.js';

const hasOpenssl = spawnSync('openssl', ['version']).error === undefined;
if (!hasOpenssl) console.warn('skipping the MQTT TLS listener test: openssl not found (apt-get install openssl)');

describe('MQTT over WebSocket (browser signage players)', () => {
  let h: Harness | undefined;
  let client: MqttClient | undefined;
  afterEach(async () => {
    await client?.endAsync(true);
    await h?.mqttBus.stop();
  });

  it('delivers content to a sign connected over ws:// on the configured path', async () => {
    h = await startHarness([await deviceConfig('s1', 'sign')], { port: false, ws: { port: 0, path: '/mqtt' } });
    expect(h.ports).toEqual({ ws: expect.any(Number) });
    client = await connect(`ws://127.0.0.1:${h.ports.ws}/mqtt`, { clientId: 's1', username: 's1', password: PASSWORD });
    await subscribe(client, 'gatehouse/gw1/s1/content');
    const got = nextMessage(client, 'gatehouse/gw1/s1/content');
    expect(h.mqttBus.publisher.send('s1', { contentId: 'c1', content: 'menu', durationMs: 5000, priority: 1 })).toBe(true);
    expect(await got).toMatchObject({ contentId: 'c1', content: 'menu' });
  });

  it('refuses a WebSocket sign with a wrong password', async () => {
    h = await startHarness([await deviceConfig('s1', 'sign')], { port: false, ws: { port: 0 } });
    await expect(connect(`ws://127.0.0.1:${h.ports.ws}/mqtt`, { clientId: 's1', username: 's1', password: 'x' })).rejects.toThrow(/Bad username or password/i);
  });
});

describe.skipIf(!hasOpenssl)('MQTT over TLS', () => {
  let dir: string;
  let h: Harness | undefined;
  let client: MqttClient | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-mqtt-tls-'));
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
  });
  afterEach(async () => {
    await client?.endAsync(true);
    await h?.mqttBus.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a device over mqtts:// with the configured certificate (paths relative to the config directory)', async () => {
    h = await startHarness([await deviceConfig('r1', 'reader')], { tls: { port: 0, cert: 'cert.pem', key: 'key.pem' } }, dir);
    expect(h.ports.tls).toEqual(expect.any(Number));
    client = await connect(`mqtts://127.0.0.1:${h.ports.tls}`, { clientId: 'r1', username: 'r1', password: PASSWORD, ca: readFileSync(join(dir, 'cert.pem')) });
    await eventually(() => h!.mqttBus.drivers()[0]!.state() === 'online');
  });
});

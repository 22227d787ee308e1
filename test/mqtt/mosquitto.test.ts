import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../gateway/core/types.js';
import { PASSWORD, deviceConfig, eventually, metricValue, startHarness, type Harness } from './harness.js';

/**
 * Interop with an independent MQTT implementation: Mosquitto's command-line
 * clients (Debian package mosquitto-clients; CI installs it).
 */
const hasOpenssl = spawnSync('openssl', ['version']).error === undefined;
const hasMosquitto = spawnSync('mosquitto_sub', ['--help']).error === undefined && spawnSync('mosquitto_pub', ['--help']).error === undefined;
if (hasMosquitto && !hasOpenssl) console.warn('skipping the Mosquitto TLS interop test: openssl not found (apt-get install openssl)');
if (!hasMosquitto) console.warn('skipping Mosquitto interop tests: mosquitto_sub/mosquitto_pub not found (apt-get install mosquitto-clients)');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(cmd: string, args: string[]): Run {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

const decision: Decision = { result: 'granted', reason: 'ok', laneId: 'l1', zoneId: 'z1', direction: 'in', flags: {}, at: Date.UTC(2026, 0, 1), display: 'Welcome' };

describe.skipIf(!hasMosquitto)('interop with mosquitto_pub / mosquitto_sub', () => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await h?.mqttBus.stop();
    h = undefined;
  });

  function mosq(tool: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Run {
    const r = run(tool, ['-h', '127.0.0.1', '-p', String(h!.ports.tcp), '-V', 'mqttv311', ...args]);
    children.push(r.child);
    return r;
  }

  it.skipIf(!hasOpenssl)('connects mosquitto_pub over TLS, verifying the broker certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mosq-tls-'));
    try {
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
      expect(made.status).toBe(0);
      h = await startHarness([await deviceConfig('k1', 'kiosk')], { port: false, tls: { port: 0, cert: 'cert.pem', key: 'key.pem' } }, dir);
      const seen: string[] = [];
      h.bus.on('interaction', (i) => seen.push(i.item));
      const pub = run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(h.ports.tls), '-V', 'mqttv311', '--cafile', join(dir, 'cert.pem'), '-i', 'k1', '-u', 'k1', '-P', PASSWORD, '-q', '1', '-t', 'gatehouse/gw1/k1/interaction', '-m', '{"item":"tls-ok","action":"tap"}']);
      children.push(pub.child);
      expect(await pub.exit, pub.stderr()).toBe(0);
      await eventually(() => seen.length === 1);
      expect(seen).toEqual(['tls-ok']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses mosquitto_pub with a wrong password', async () => {
    h = await startHarness([await deviceConfig('r1', 'reader')]);
    const r = mosq('mosquitto_pub', ['-i', 'r1', '-u', 'r1', '-P', 'wrong', '-t', 'gatehouse/gw1/r1/scan', '-m', '{}']);
    expect(await r.exit).not.toBe(0);
    expect(r.stderr()).toMatch(/not authori[sz]ed|bad user ?name or password/i);
    expect(await metricValue(h.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_AUTH' })).toBe(1);
  });

  it('answers a scan published by mosquitto_pub with a decision seen by mosquitto_sub', async () => {
    h = await startHarness([await deviceConfig('r1', 'reader')]);
    const driver = h.mqttBus.drivers()[0]!;
    // A tiny stand-in for the access engine: every credential is granted.
    h.bus.on('credential', (read) => driver.feedback!(read.reader, { decision, pulseMs: 500 }));
    const sub = mosq('mosquitto_sub', ['-i', 'r1:sub', '-u', 'r1', '-P', PASSWORD, '-q', '1', '-t', 'gatehouse/gw1/r1/decision', '-C', '1', '-W', '20']);
    await eventually(() => h!.mqttBus.clientsConnected() === 1);
    // mosquitto_sub subscribes right after CONNACK; give the SUBSCRIBE a moment to land by retrying the scan until answered.
    let n = 0;
    await eventually(async () => {
      if (sub.stdout().length > 0) return true;
      const pub = mosq('mosquitto_pub', ['-i', 'r1', '-u', 'r1', '-P', PASSWORD, '-q', '1', '-t', 'gatehouse/gw1/r1/scan', '-m', JSON.stringify({ id: `mosq-${++n}`, credential: { kind: 'barcode', value: 'QR-1' } })]);
      expect(await pub.exit).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
      return sub.stdout().length > 0;
    }, 15_000);
    expect(await sub.exit).toBe(0);
    const answer = JSON.parse(sub.stdout().trim()) as Record<string, unknown>;
    expect(answer).toMatchObject({ result: 'granted', reason: 'ok', display: 'Welcome', pulseMs: 500 });
    expect(answer.id).toMatch(/^mosq-\d+$/);
  });

  it('does not let mosquitto_sub logged in as one device read another device topics', async () => {
    h = await startHarness([await deviceConfig('r1', 'reader'), await deviceConfig('s1', 'sign')]);
    const sign = mosq('mosquitto_sub', ['-i', 's1', '-u', 's1', '-P', PASSWORD, '-q', '1', '-t', 'gatehouse/gw1/s1/content', '-C', '1', '-W', '20']);
    const spy = mosq('mosquitto_sub', ['-i', 'r1', '-u', 'r1', '-P', PASSWORD, '-t', 'gatehouse/gw1/r1/decision', '-t', 'gatehouse/gw1/s1/content', '-t', 'gatehouse/gw1/+/content', '-t', '#', '-W', '20']);
    await eventually(async () => (await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_ACL' })) === 3);
    await eventually(() => h!.mqttBus.clientsConnected() === 2);
    // Retry until the sign's SUBSCRIBE has landed and it got the content: then the spy had every chance to see it too.
    await eventually(async () => {
      expect(h!.mqttBus.publisher.send('s1', { contentId: `c${Date.now()}`, content: 'secret-offer', durationMs: 1000, priority: 1 })).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      return sign.stdout().includes('secret-offer');
    });
    expect(await sign.exit).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    spy.child.kill('SIGTERM');
    await spy.exit;
    expect(spy.stdout()).not.toContain('secret-offer');
    expect(spy.stdout()).toBe('');
  });
});

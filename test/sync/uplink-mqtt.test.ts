import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory, type CloudEvent } from '../../gateway/events/cloudevent.js';
import { openOutbox, type Outbox } from '../../sync/outbox/outbox.js';
import { mqttTransport } from '../../sync/uplink/mqtt.js';
import { createUplink, type Uplink } from '../../sync/uplink/uplink.js';
import type { UplinkTransport } from '../../sync/uplink/transport.js';

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).error === undefined);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = tcpConnect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - start > timeoutMs) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!MOSQUITTO)('MQTT uplink against a real Mosquitto broker (needs the mosquitto binary)', () => {
  let dir: string;
  let port: number;
  let broker: ChildProcess | undefined;
  let outbox: Outbox;
  let transport: UplinkTransport;
  let uplink: Uplink;
  let subscriber: MqttClient;
  let received: CloudEvent[];
  const make = eventFactory('gw1');

  const startBroker = async () => {
    broker = spawn(MOSQUITTO!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const stopBroker = async () => {
    const b = broker;
    broker = undefined;
    if (!b || b.exitCode !== null) return;
    await new Promise((r) => {
      b.once('exit', r);
      b.kill('SIGKILL');
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-mqtt-uplink-'));
    port = await freePort();
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    await startBroker();
    received = [];
    subscriber = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'central', protocolVersion: 5, reconnectPeriod: 200 });
    subscriber.on('message', (_t, payload) => received.push(...(JSON.parse(payload.toString()) as CloudEvent[])));
    await subscriber.subscribeAsync('central/gw1/events', { qos: 1 });
    const clock = systemClock({ assumeSynced: true });
    outbox = openOutbox({ path: join(dir, `outbox-${Date.now()}.db`), maxBytes: 1e8, maxRows: 1e6, retentionHours: 1, groupCommitMs: 1, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
    transport = mqttTransport({ url: `mqtt://127.0.0.1:${port}`, topic: 'central/gw1/events', clientId: 'gw1-uplink', timeoutMs: 2000, reconnectMs: 100 });
    uplink = createUplink({ outbox, transport, batchSize: 20, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 20, capMs: 200 } });
  });
  afterEach(async () => {
    await uplink.stop();
    await transport.close();
    await subscriber.endAsync(true);
    await outbox.close();
    await stopBroker();
  });

  const appendMany = (n: number, from = 0) => Promise.all(Array.from({ length: n }, (_, i) => outbox.append(make({ type: 'io.gatehouse.access.granted', origin: 'lane1', subject: 'h1', data: { i: from + i } }), 'access')));
  const until = async (cond: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  };

  it('publishes QoS 1 batches in append order and deletes rows only after PUBACK', async () => {
    await until(() => transport.connected());
    await appendMany(55);
    await uplink.drainNow();
    expect(outbox.depth()).toBe(0);
    await until(() => received.length >= 55);
    expect(received.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 55 }, (_, i) => i));
  });

  it('keeps rows while the broker is down and delivers them all once it is back', async () => {
    await until(() => transport.connected());
    await stopBroker();
    await until(() => !transport.connected());
    await appendMany(30);
    await expect(uplink.drainNow()).rejects.toMatchObject({ code: 'GH_UPLINK_MQTT' });
    expect(outbox.depth()).toBe(30);
    await startBroker();
    // The broker runs without persistence: the stand-in central subscribes again before delivery resumes.
    await until(() => subscriber.connected);
    await subscriber.subscribeAsync('central/gw1/events', { qos: 1 });
    uplink.start();
    await until(() => outbox.depth() === 0);
    expect(outbox.depth()).toBe(0);
    await until(() => new Set(received.map((e) => e.id)).size >= 30);
    expect(new Set(received.map((e) => e.id)).size).toBe(30);
  });
});

import type { MqttClient } from 'mqtt';
import { Counter } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusTopics } from '../../gateway/bus/bus.js';
import type { Decision } from '../../gateway/core/types.js';
import type { MqttDeviceConfig } from '../../drivers/mqtt/config.js';
import { hashPassword } from '../../drivers/mqtt/password.js';
import { PASSWORD, TEST_SCRYPT, connect, device, deviceConfig, eventually, metricValue, nextMessage, startHarness, subscribe, type Harness } from './harness.js';
import { closed, connectPacket, publishHeader, rawSocket, readBytes, subscribePacket } from './raw.js';

const decision = (result: Decision['result'], display?: string): Decision => ({
  result,
  reason: result === 'granted' ? 'ok' : 'unknown_credential',
  laneId: 'lane-1',
  zoneId: 'main',
  direction: 'in',
  flags: {},
  at: Date.UTC(2026, 0, 1, 12),
  ...(display === undefined ? {} : { display }),
});

describe('embedded MQTT bus (mqtt.js over real sockets)', () => {
  let h: Harness | undefined;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
    await h?.mqttBus.stop();
    h = undefined;
  });

  async function setup(devices: MqttDeviceConfig[], broker: Record<string, unknown> = {}): Promise<Harness> {
    h = await startHarness(devices, broker);
    return h;
  }
  async function dev(id: string, extra = {}): Promise<MqttClient> {
    const c = await device(h!.url, id, extra);
    clients.push(c);
    return c;
  }

  it('turns a reader scan into a bus credential and publishes the decision with the request id echoed', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const driver = h!.mqttBus.drivers().find((d) => d.id === 'r1')!;
    const reads: Array<BusTopics['credential']> = [];
    h!.bus.on('credential', (read) => {
      reads.push(read);
      driver.feedback!(read.reader, { decision: decision('granted', 'Welcome'), pulseMs: 800 });
    });
    const reader = await dev('r1');
    await subscribe(reader, 'gatehouse/gw1/r1/decision');
    const answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: 'req-42', credential: { kind: 'barcode', value: 'TICKET-1' }, reader: 'in' }));
    expect(await answer).toEqual({ id: 'req-42', reader: 'in', result: 'granted', reason: 'ok', display: 'Welcome', pulseMs: 800, at: '2026-01-01T12:00:00.000Z' });
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ deviceId: 'r1', reader: 'in', credential: { kind: 'barcode', value: 'TICKET-1' } });
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_messages_total', { device: 'r1', topic: 'decision', direction: 'out' })).toBe(1);
  });

  it('echoes the right request id when the engine skips one scan and answers the next, or answers later', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const driver = h!.mqttBus.drivers()[0]!;
    h!.bus.on('credential', (read) => {
      if (read.credential.value === 'ignored') return;
      if (read.credential.value === 'late') {
        setTimeout(() => driver.feedback!(read.reader, { decision: decision('denied'), pulseMs: 0 }), 20);
        return;
      }
      driver.feedback!(read.reader, { decision: decision('granted'), pulseMs: 1 });
    });
    const reader = await dev('r1');
    await subscribe(reader, 'gatehouse/gw1/r1/decision');
    const scan = (id: string, value: string) => reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id, credential: { kind: 'card', value } }));
    let answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await scan('a', 'ignored');
    await scan('b', 'ok');
    expect(await answer).toMatchObject({ id: 'b', result: 'granted' });
    answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await scan('c', 'late');
    expect(await answer).toMatchObject({ id: 'c', result: 'denied' });
  });

  it('sends no relay pulse with a denial', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const driver = h!.mqttBus.drivers().find((d) => d.id === 'r1')!;
    h!.bus.on('credential', (read) => driver.feedback!(read.reader, { decision: decision('denied'), pulseMs: 800 }));
    const reader = await dev('r1');
    await subscribe(reader, 'gatehouse/gw1/r1/#');
    const answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: 'a', credential: { kind: 'card', value: '12:345' } }));
    expect(await answer).toMatchObject({ id: 'a', result: 'denied', pulseMs: 0 });
  });

  it('refuses a wrong password and an unknown username, and counts GH_MQTT_AUTH', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    // The core's gateway-wide error counter, when registered, counts the same codes.
    new Counter({ name: 'gatehouse_errors_total', help: 'core', labelNames: ['code'], registers: [h!.metrics] });
    await expect(connect(h!.url, { clientId: 'r1', username: 'r1', password: 'nope' })).rejects.toThrow(/Bad username or password/i);
    await expect(connect(h!.url, { clientId: 'ghost', username: 'ghost', password: PASSWORD })).rejects.toThrow(/Bad username or password/i);
    await expect(connect(h!.url, { clientId: 'r1' })).rejects.toThrow(/Bad username or password/i);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_AUTH' })).toBe(1);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'unknown', code: 'GH_MQTT_AUTH' })).toBe(2);
    expect(await metricValue(h!.metrics, 'gatehouse_errors_total', { code: 'GH_MQTT_AUTH' })).toBe(3);
    // After failures, checks from this address run one at a time: still correct for wrong and right passwords alike.
    const attempts = await Promise.allSettled([
      connect(h!.url, { clientId: 'r1', username: 'r1', password: 'nope-1' }),
      connect(h!.url, { clientId: 'r1', username: 'r1', password: 'nope-2' }),
      device(h!.url, 'r1'),
    ]);
    expect(attempts.map((a) => a.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    if (attempts[2]!.status === 'fulfilled') clients.push(attempts[2]!.value);
  });

  it('binds the client id to the username so one device cannot take over another one', async () => {
    await setup([await deviceConfig('r1', 'reader'), await deviceConfig('s1', 'sign')]);
    const sign = await dev('s1');
    await expect(connect(h!.url, { clientId: 's1', username: 'r1', password: PASSWORD })).rejects.toThrow(/Identifier rejected/i);
    expect(sign.connected).toBe(true);
    await eventually(() => h!.mqttBus.drivers().find((d) => d.id === 's1')!.state() === 'online');
  });

  it('lets one device hold several connections ("<username>:<suffix>") up to its limit, online until the last one closes', async () => {
    await setup([await deviceConfig('r1', 'reader', { limits: { maxConnections: 2 } })]);
    const statuses: Array<BusTopics['device.status']> = [];
    h!.bus.on('device.status', (st) => statuses.push(st));
    const a = await dev('r1');
    const b = await dev('r1', { clientId: 'r1:display' });
    await expect(device(h!.url, 'r1', { clientId: 'r1:third' })).rejects.toThrow(/Server unavailable/i);
    await expect(device(h!.url, 'r1', { clientId: 'r1x' })).rejects.toThrow(/Identifier rejected/i);
    await a.endAsync();
    await eventually(() => h!.mqttBus.clientsConnected() === 1);
    expect(h!.mqttBus.drivers()[0]!.state()).toBe('online');
    await b.endAsync();
    await eventually(() => statuses.length === 2);
    expect(statuses.map((st) => st.state)).toEqual(['online', 'offline']);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_CONNECTIONS' })).toBe(1);
  });

  it('lets a device reconnect with the same client id, closing the old connection without an offline/online flicker', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const statuses: Array<BusTopics['device.status']> = [];
    h!.bus.on('device.status', (st) => statuses.push(st));
    const old = await dev('r1');
    const oldClosed = new Promise<void>((r) => old.once('close', () => r()));
    const fresh = await dev('r1');
    await oldClosed;
    expect(fresh.connected).toBe(true);
    expect(h!.mqttBus.clientsConnected()).toBe(1);
    expect(statuses.map((st) => st.state)).toEqual(['online']);
  });

  it('refuses a client without keepalive (half-open sockets would never be noticed)', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    await expect(connect(h!.url, { clientId: 'r1', username: 'r1', password: PASSWORD, keepalive: 0 })).rejects.toThrow(/Not authorized/i);
  });

  it('grants subscriptions only inside the device subtree and its grants', async () => {
    await setup([
      await deviceConfig('r1', 'reader', { grants: [{ topic: 'gatehouse/{gateway}/_gateway/status' }] }),
      await deviceConfig('s1', 'sign'),
    ]);
    const reader = await dev('r1');
    expect(await subscribe(reader, 'gatehouse/gw1/r1/#')).toBe(1);
    expect(await subscribe(reader, 'gatehouse/gw1/r1/decision')).toBe(1);
    for (const filter of ['#', '+/#', 'gatehouse/#', 'gatehouse/gw1/+/content', 'gatehouse/+/s1/content', 'gatehouse/gw1/s1/#', '$SYS/#', '$share/g/gatehouse/gw1/r1/#']) {
      expect(await subscribe(reader, filter), filter).toBe(128);
    }
    const status = nextMessage(reader, 'gatehouse/gw1/_gateway/status');
    expect(await subscribe(reader, 'gatehouse/gw1/_gateway/status')).toBe(1);
    expect(await status).toEqual({ state: 'online' });
    expect(reader.connected).toBe(true);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_ACL' })).toBe(8);
  });

  it('disconnects a device that publishes into another device subtree, and the message never arrives', async () => {
    await setup([await deviceConfig('r1', 'reader'), await deviceConfig('s1', 'sign')]);
    const sign = await dev('s1');
    await subscribe(sign, 'gatehouse/gw1/s1/#');
    const got: string[] = [];
    sign.on('message', (t) => got.push(t));
    const reader = await dev('r1');
    const gone = new Promise<void>((r) => reader.once('close', () => r()));
    reader.publish('gatehouse/gw1/s1/content', JSON.stringify({ contentId: 'x', content: 'spoof', durationMs: 1, priority: 1 }));
    await gone;
    await eventually(async () => (await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_ACL' })) === 1);
    expect(got.filter((t) => t.endsWith('/content'))).toEqual([]);
    expect(sign.connected).toBe(true);
  });

  it('does not let a device publish on the topics the gateway owns in its own subtree', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const reader = await dev('r1');
    const gone = new Promise<void>((r) => reader.once('close', () => r()));
    reader.publish('gatehouse/gw1/r1/decision', JSON.stringify({ id: 'x', result: 'granted' }));
    await gone;
    await eventually(() => h!.mqttBus.drivers()[0]!.state() === 'offline');
  });

  it('keeps retained messages only on the device status topic (nothing else can fill broker memory)', async () => {
    await setup([await deviceConfig('k1', 'kiosk')]);
    const first = await dev('k1', { clientId: 'k1:a' });
    await first.publishAsync('gatehouse/gw1/k1/junk/1', 'x'.repeat(100), { qos: 1, retain: true });
    await first.publishAsync('gatehouse/gw1/k1/status', JSON.stringify({ state: 'online', reason: 'mine' }), { qos: 1, retain: true });
    const second = await dev('k1', { clientId: 'k1:b' });
    const got: string[] = [];
    second.on('message', (t, _p, packet) => packet.retain && got.push(t));
    await subscribe(second, 'gatehouse/gw1/k1/#');
    await eventually(() => got.includes('gatehouse/gw1/k1/status'));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['gatehouse/gw1/k1/status']);
  });

  it('answers malformed JSON and wrong schemas on …/error, counts GH_MQTT_PAYLOAD and keeps serving', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const driver = h!.mqttBus.drivers()[0]!;
    const reads: string[] = [];
    h!.bus.on('credential', (read) => {
      reads.push(read.credential.value);
      driver.feedback!(read.reader, { decision: decision('granted'), pulseMs: 0 });
    });
    const reader = await dev('r1');
    await subscribe(reader, 'gatehouse/gw1/r1/#');
    let err = nextMessage(reader, 'gatehouse/gw1/r1/error');
    await reader.publishAsync('gatehouse/gw1/r1/scan', '{"id": "1", credential');
    expect(await err).toMatchObject({ code: 'GH_MQTT_PAYLOAD', topic: 'gatehouse/gw1/r1/scan', message: expect.stringMatching(/^not JSON/) });
    err = nextMessage(reader, 'gatehouse/gw1/r1/error');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: '2', credential: { kind: 'retina', value: 'x' } }));
    expect(await err).toMatchObject({ code: 'GH_MQTT_PAYLOAD', message: expect.stringMatching(/credential\.kind/) });
    err = nextMessage(reader, 'gatehouse/gw1/r1/error');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: '3', credential: { kind: 'card', value: 'a\u0007b' } }));
    expect(await err).toMatchObject({ code: 'GH_MQTT_PAYLOAD' });
    const answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: '4', credential: { kind: 'card', value: '1:2' } }));
    expect(await answer).toMatchObject({ id: '4' });
    expect(reads).toEqual(['1:2']);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'r1', code: 'GH_MQTT_PAYLOAD' })).toBe(3);
  });

  it('disconnects on a payload over the device maximum (GH_MQTT_OVERSIZE)', async () => {
    await setup([await deviceConfig('k1', 'kiosk', { limits: { maxPayloadBytes: 1024 } })]);
    const seen: unknown[] = [];
    h!.bus.on('interaction', (i) => seen.push(i));
    const kiosk = await dev('k1');
    const gone = new Promise<void>((r) => kiosk.once('close', () => r()));
    kiosk.publish('gatehouse/gw1/k1/interaction', JSON.stringify({ item: 'x'.repeat(2000), action: 'tap' }));
    await gone;
    expect(seen).toEqual([]);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'k1', code: 'GH_MQTT_OVERSIZE' })).toBe(1);
  });

  it('drops a connection as soon as a packet header declares more than maxPacketBytes, before the body arrives', async () => {
    await setup([await deviceConfig('k1', 'kiosk')], { limits: { maxPacketBytes: 4096 } });
    const s = await rawSocket(h!.ports.tcp!);
    s.write(connectPacket('k1', 'k1', PASSWORD, 30));
    expect((await readBytes(s, 4)).subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    s.write(publishHeader(50_000_000));
    await closed(s);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'k1', code: 'GH_MQTT_OVERSIZE' })).toBe(1);
    await eventually(() => h!.mqttBus.drivers()[0]!.state() === 'offline');
  });

  it('disconnects a device that floods over its publish rate (GH_MQTT_RATE)', async () => {
    await setup([await deviceConfig('k1', 'kiosk', { limits: { publishPerSecond: 0.5, publishBurst: 3 } })]);
    const seen: unknown[] = [];
    h!.bus.on('interaction', (i) => seen.push(i));
    const statuses: Array<BusTopics['device.status']> = [];
    h!.bus.on('device.status', (s) => statuses.push(s));
    const kiosk = await dev('k1');
    const gone = new Promise<void>((r) => kiosk.once('close', () => r()));
    for (let i = 0; i < 10; i++) kiosk.publish('gatehouse/gw1/k1/interaction', JSON.stringify({ item: `b${i}`, action: 'tap' }));
    await gone;
    expect(seen.length).toBe(3);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'k1', code: 'GH_MQTT_RATE' })).toBe(1);
    await eventually(() => statuses.length === 2);
    expect(statuses[1]).toMatchObject({ deviceId: 'k1', state: 'offline', reason: 'GH_MQTT_RATE' });
  });

  it('refuses connections over maxConnections (GH_MQTT_CONNECTIONS) and serves the ones it has', async () => {
    await setup([await deviceConfig('r1', 'reader')], { limits: { maxConnections: 2 } });
    const a = await rawSocket(h!.ports.tcp!);
    const b = await rawSocket(h!.ports.tcp!);
    // The server accepts in arrival order: a and b hold both places when c arrives.
    const c = await rawSocket(h!.ports.tcp!);
    await closed(c);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'unknown', code: 'GH_MQTT_CONNECTIONS' })).toBe(1);
    a.destroy();
    await closed(a);
    await eventually(async () => {
      try {
        clients.push(await device(h!.url, 'r1'));
        return true;
      } catch {
        return false;
      }
    });
    b.destroy();
  });

  it('closes a socket that never sends CONNECT', async () => {
    await setup([await deviceConfig('r1', 'reader')], { limits: { connectTimeoutMs: 200 } });
    const s = await rawSocket(h!.ports.tcp!);
    await closed(s);
  });

  it('finds a half-open client by its keepalive and reports it offline', async () => {
    await setup([await deviceConfig('r1', 'reader')]);
    const s = await rawSocket(h!.ports.tcp!);
    s.write(connectPacket('r1', 'r1', PASSWORD, 1));
    await readBytes(s, 4);
    const statuses: Array<BusTopics['device.status']> = [];
    h!.bus.on('device.status', (st) => statuses.push(st));
    // The client now goes silent (no PINGREQ): the broker gives up after 1.5 x keepalive (MQTT-3.1.2-24).
    await closed(s);
    expect(statuses).toEqual([expect.objectContaining({ deviceId: 'r1', state: 'offline', reason: 'keepalive timeout' })]);
  });

  it('drops a subscriber that never reads (drain timeout) while other devices keep getting answers', async () => {
    await setup([await deviceConfig('s1', 'sign'), await deviceConfig('r1', 'reader')], { limits: { drainTimeoutMs: 300 } });
    const slow = await rawSocket(h!.ports.tcp!);
    slow.write(connectPacket('s1', 's1', PASSWORD, 60));
    await readBytes(slow, 4);
    slow.resume();
    slow.write(subscribePacket(1, 'gatehouse/gw1/s1/content', 0));
    await readBytes(slow, 5);
    // From here on the sign reads nothing: its socket buffers fill up.
    const driver = h!.mqttBus.drivers().find((d) => d.id === 'r1')!;
    h!.bus.on('credential', (read) => driver.feedback!(read.reader, { decision: decision('granted'), pulseMs: 0 }));
    const reader = await dev('r1');
    await subscribe(reader, 'gatehouse/gw1/r1/decision');
    const big = 'x'.repeat(60_000);
    for (let i = 0; i < 400 && h!.mqttBus.drivers()[0]!.state() === 'online'; i++) {
      h!.mqttBus.publisher.send('s1', { contentId: `c${i}`, content: 'promo', durationMs: 1000, priority: 1, vars: { big } });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(() => h!.mqttBus.drivers()[0]!.state() === 'offline');
    const answer = nextMessage(reader, 'gatehouse/gw1/r1/decision');
    await reader.publishAsync('gatehouse/gw1/r1/scan', JSON.stringify({ id: 'after', credential: { kind: 'card', value: '1' } }));
    expect(await answer).toMatchObject({ id: 'after' });
    slow.destroy();
  });

  it('routes kiosk interactions and app sightings to the bus', async () => {
    await setup([await deviceConfig('k1', 'kiosk'), await deviceConfig('p1', 'app')]);
    const interactions: Array<BusTopics['interaction']> = [];
    const sightings: Array<BusTopics['sighting']> = [];
    h!.bus.on('interaction', (i) => interactions.push(i));
    h!.bus.on('sighting', (s) => sightings.push(s));
    const kiosk = await dev('k1');
    const phone = await dev('p1');
    const reads: unknown[] = [];
    h!.bus.on('credential', (r) => reads.push(r));
    // A kiosk's scan topic is not read by the gateway: only a reader's is. Sent first, so it was handled before the interaction.
    await kiosk.publishAsync('gatehouse/gw1/k1/scan', JSON.stringify({ id: '1', credential: { kind: 'card', value: '1' } }), { qos: 1 });
    await kiosk.publishAsync('gatehouse/gw1/k1/interaction', JSON.stringify({ item: 'jersey-23', action: 'view', holderRef: 'h-1', data: { seconds: 12 } }), { qos: 1 });
    await phone.publishAsync('gatehouse/gw1/p1/sighting', JSON.stringify({ beacon: 'cafe', rssi: -61, txPower: -59, holderRef: 'h-2' }), { qos: 1 });
    await eventually(() => interactions.length === 1 && sightings.length === 1);
    expect(interactions).toEqual([expect.objectContaining({ deviceId: 'k1', item: 'jersey-23', action: 'view', holderRef: 'h-1', data: { seconds: 12 } })]);
    expect(sightings).toEqual([expect.objectContaining({ observer: 'p1', beacon: 'cafe', rssi: -61, txPower: -59, holderRef: 'h-2' })]);
    expect(reads).toEqual([]);
  });

  it('delivers content to a sign and turns its ack into signage.ack with the rule, refusing acks for content never sent', async () => {
    await setup([await deviceConfig('s1', 'sign'), await deviceConfig('k1', 'kiosk')]);
    const acks: Array<BusTopics['signage.ack']> = [];
    h!.bus.on('signage.ack', (a) => acks.push(a));
    expect(h!.mqttBus.publisher.send('s1', { contentId: 'c0', content: 'x', durationMs: 1, priority: 1 })).toBe(false);
    const sign = await dev('s1');
    await subscribe(sign, 'gatehouse/gw1/s1/#');
    const content = nextMessage(sign, 'gatehouse/gw1/s1/content');
    expect(h!.mqttBus.publisher.send('s1', { contentId: 'c1', content: 'welcome-back', durationMs: 8000, priority: 5, vars: { name: 'Ada' }, ruleId: 'r-7', holderRef: 'h-9' })).toBe(true);
    const body = await content;
    expect(body).toMatchObject({ contentId: 'c1', content: 'welcome-back', durationMs: 8000, priority: 5, vars: { name: 'Ada' } });
    expect(body).not.toHaveProperty('holderRef');
    await sign.publishAsync('gatehouse/gw1/s1/ack', JSON.stringify({ contentId: 'c1', status: 'shown' }), { qos: 1 });
    // PUBACK precedes delivery inside the broker (aedes acks QoS 1 first), so wait for the bus.
    await eventually(() => acks.length === 1);
    expect(acks).toEqual([expect.objectContaining({ deviceId: 's1', contentId: 'c1', status: 'shown', ruleId: 'r-7', holderRef: 'h-9' })]);
    const err = nextMessage(sign, 'gatehouse/gw1/s1/error');
    await sign.publishAsync('gatehouse/gw1/s1/ack', JSON.stringify({ contentId: 'c1', status: 'shown' }), { qos: 1 });
    expect(await err).toMatchObject({ code: 'GH_MQTT_PAYLOAD', message: expect.stringContaining('unknown contentId') });
    expect(acks).toHaveLength(1);
    expect(h!.mqttBus.publisher.send('k1', { contentId: 'c2', content: 'x', durationMs: 1, priority: 1 })).toBe(false);
    expect(h!.mqttBus.publisher.send('nope', { contentId: 'c3', content: 'x', durationMs: 1, priority: 1 })).toBe(false);
  });

  it('reports online/offline on the bus, as outbox events and as retained status', async () => {
    await setup([await deviceConfig('s1', 'sign'), await deviceConfig('k1', 'kiosk')]);
    const statuses: Array<BusTopics['device.status']> = [];
    h!.bus.on('device.status', (s) => statuses.push(s));
    const sign = await dev('s1', { will: { topic: 'gatehouse/gw1/s1/status', payload: Buffer.from('{"state":"offline","reason":"will"}'), qos: 1, retain: true } });
    await eventually(() => statuses.length === 1);
    expect(h!.mqttBus.drivers()[0]!.state()).toBe('online');
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_device_online', { device: 's1' })).toBe(1);
    const retained = nextMessage(sign, 'gatehouse/gw1/s1/status');
    await subscribe(sign, 'gatehouse/gw1/s1/status');
    expect(await retained).toEqual({ state: 'online' });
    sign.stream.destroy();
    await eventually(() => statuses.length === 2);
    expect(statuses.map((s) => s.state)).toEqual(['online', 'offline']);
    // Device events are made by the composition root from device.status, not by the bus itself.
    expect(h!.events.filter((e) => e.event.type.startsWith('io.gatehouse.device.'))).toEqual([]);
    expect(h!.mqttBus.clientsConnected()).toBe(0);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_device_online', { device: 's1' })).toBe(0);
  });

  it('refuses at CONNECT a last will aimed outside the device subtree', async () => {
    await setup([await deviceConfig('s1', 'sign'), await deviceConfig('k1', 'kiosk')]);
    const will = { topic: 'gatehouse/gw1/s1/status', payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
    await expect(device(h!.url, 'k1', { will })).rejects.toThrow(/Not authorized/i);
    expect(await metricValue(h!.metrics, 'gatehouse_mqtt_rejected_total', { device: 'k1', code: 'GH_MQTT_ACL' })).toBe(1);
  });

  it('applies a changed device list without a restart: rotated password, new device, removed device', async () => {
    const r1 = await deviceConfig('r1', 'reader');
    const s1 = await deviceConfig('s1', 'sign');
    await setup([r1, s1]);
    const sign = await dev('s1');
    const reader = await dev('r1');
    const readerClosed = new Promise<void>((r) => reader.once('close', () => r()));
    const rotated = { ...r1, passwordHash: await hashPassword('new-secret', TEST_SCRYPT) };
    const k1 = await deviceConfig('k1', 'kiosk');
    const before = h!.mqttBus.drivers().find((d) => d.id === 's1');

    expect(() => h!.mqttBus.updateDevices([rotated, { ...k1, username: 'r1' }])).toThrow(/share the MQTT username/);
    expect(reader.connected).toBe(true);

    h!.mqttBus.updateDevices([rotated, s1, k1]);
    await readerClosed;
    await expect(device(h!.url, 'r1')).rejects.toThrow(/Bad username or password/i);
    clients.push(await connect(h!.url, { clientId: 'r1', username: 'r1', password: 'new-secret' }));
    clients.push(await dev('k1'));
    expect(sign.connected).toBe(true);
    expect(h!.mqttBus.drivers().map((d) => d.id).sort()).toEqual(['k1', 'r1', 's1']);
    expect(h!.mqttBus.drivers().find((d) => d.id === 's1')).toBe(before);

    const signClosed = new Promise<void>((r) => sign.once('close', () => r()));
    h!.mqttBus.updateDevices([rotated, k1]);
    await signClosed;
    expect(h!.mqttBus.drivers().map((d) => d.id).sort()).toEqual(['k1', 'r1']);
    await expect(device(h!.url, 's1')).rejects.toThrow(/Bad username or password/i);
  });

  it('stops gracefully: clients are closed, drivers report stopped', async () => {
    await setup([await deviceConfig('s1', 'sign')]);
    const sign = await dev('s1');
    const gone = new Promise<void>((r) => sign.once('close', () => r()));
    await h!.mqttBus.stop();
    await gone;
    expect(h!.mqttBus.drivers()[0]!.state()).toBe('stopped');
    expect(h!.mqttBus.clientsConnected()).toBe(0);
    await expect(device(h!.url, 's1')).rejects.toThrow();
  });
});

describe('MQTT bus configuration errors', () => {
  it('fails start with GH_CONFIG_SECRET naming the missing TLS key file', async () => {
    await expect(startHarness([await deviceConfig('s1', 'sign')], { tls: { port: 0, cert: 'missing-cert.pem', key: 'missing-key.pem' } }, '/nonexistent')).rejects.toMatchObject({
      code: 'GH_CONFIG_SECRET',
      message: expect.stringContaining('/nonexistent/missing-cert.pem'),
    });
  });

  it('refuses two devices with the same username', async () => {
    await expect(startHarness([await deviceConfig('a', 'sign', { username: 'same' }), await deviceConfig('b', 'sign', { username: 'same' })])).rejects.toMatchObject({ code: 'GH_CONFIG_INVALID' });
  });

  it('reports a port already in use as GH_DRIVER_FAILED', async () => {
    const first = await startHarness([]);
    try {
      await expect(startHarness([], { port: first.ports.tcp })).rejects.toMatchObject({ code: 'GH_DRIVER_FAILED' });
    } finally {
      await first.mqttBus.stop();
    }
  });
});


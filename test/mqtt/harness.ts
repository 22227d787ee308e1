import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { brokerSchema, type BrokerConfig } from '../../config/sections/broker.js';
import { Bus } from '../../gateway/bus/bus.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory, type CloudEvent, type EventPriority } from '../../gateway/events/cloudevent.js';
import { createMqttBus, type MqttBus } from '../../drivers/mqtt/bus.js';
import { mqttDeviceSchema, type MqttDeviceConfig } from '../../drivers/mqtt/config.js';
import { hashPassword } from '../../drivers/mqtt/password.js';

/** Cheap scrypt cost for tests only: the format and the code path are the same as production. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };
export const PASSWORD = 'correct horse battery staple';
export const GW = 'gw1';

export interface Harness {
  mqttBus: MqttBus;
  bus: Bus;
  metrics: Registry;
  events: Array<{ event: CloudEvent; priority: EventPriority }>;
  ports: { tcp?: number; tls?: number; ws?: number };
  url: string;
}

export async function deviceConfig(id: string, type: MqttDeviceConfig['type'], extra: Record<string, unknown> = {}): Promise<MqttDeviceConfig> {
  return mqttDeviceSchema.parse({ id, driver: 'mqtt', type, passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), ...extra });
}

export async function startHarness(devices: MqttDeviceConfig[], broker: Partial<Record<keyof BrokerConfig, unknown>> = {}, baseDir = '.'): Promise<Harness> {
  const bus = new Bus();
  const metrics = new Registry();
  const events: Harness['events'] = [];
  const mqttBus = createMqttBus({
    broker: brokerSchema.parse({ host: '127.0.0.1', port: 0, ...broker }),
    devices,
    gatewayId: GW,
    baseDir,
    bus,
    log: silentLogger(),
    metrics,
    clock: systemClock({ assumeSynced: true }),
    events: {
      append: async (event, priority) => {
        events.push({ event, priority });
      },
    },
    makeEvent: eventFactory(GW),
  });
  const { ports } = await mqttBus.start();
  return { mqttBus, bus, metrics, events, ports, url: `mqtt://127.0.0.1:${ports.tcp}` };
}

/** Connects an mqtt.js client and resolves on CONNACK; rejects on refusal (no reconnect loop). */
export function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function device(url: string, id: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return connect(url, { clientId: id, username: id, password: PASSWORD, ...extra });
}

/** Next message on `topic` for this client, parsed as JSON. */
export function nextMessage<T = Record<string, unknown>>(client: MqttClient, topic: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve(JSON.parse(payload.toString()) as T);
    };
    client.on('message', onMessage);
  });
}

/** Subscribes and returns the granted QoS, or 128 when the broker refused the filter (SUBACK failure). */
export async function subscribe(client: MqttClient, filter: string): Promise<number> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos ?? -1;
  } catch (err) {
    const codes = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (codes) return codes[0] ?? -1;
    throw err;
  }
}

export async function metricValue(metrics: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.getSingleMetric(name)?.get();
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l));
  return value?.value ?? 0;
}

/** Resolves when `check` holds, polling; for effects that arrive over a socket. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

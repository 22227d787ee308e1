import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Credential } from '../../gateway/core/types.js';
import { deviceTopic } from './acl.js';
import type { MqttDeviceType } from './config.js';
import type { ContentPayload, DecisionPayload } from './payloads.js';

/**
 * A simulated venue device speaking the docs/mqtt.md contract over a real
 * MQTT connection (mqtt.js): for the venue simulator, benchmarks and tests.
 */
export interface SimDeviceOptions {
  /** `mqtt://host:port`, `mqtts://…` or `ws://…/mqtt`. */
  url: string;
  gatewayId: string;
  id: string;
  type: MqttDeviceType;
  password: string;
  /** Defaults to the id. */
  username?: string;
  /** Client id suffix for an extra connection of the same device (`<username>:<suffix>`). */
  clientSuffix?: string;
  /** Signs: how to answer content (default: ack `shown` at once). Return undefined to stay silent. */
  onContent?: (content: ContentPayload) => 'shown' | 'skipped' | undefined;
  /** Extra mqtt.js options (TLS CA, keepalive, ...). */
  mqtt?: IClientOptions;
}

export interface SimDevice {
  readonly client: MqttClient;
  /** Readers: publishes a scan and resolves with the decision that echoes its request id. */
  scan(credential: Credential, reader?: string): Promise<DecisionPayload>;
  /** Kiosks. */
  interact(item: string, action: string, holderRef?: string): Promise<void>;
  /** Apps. */
  sighting(beacon: string, rssi: number, holderRef?: string): Promise<void>;
  /** Content received so far (signs). */
  readonly contents: ContentPayload[];
  close(): Promise<void>;
}

export async function connectSimDevice(opts: SimDeviceOptions): Promise<SimDevice> {
  const username = opts.username ?? opts.id;
  const topic = (leaf: string) => deviceTopic(opts.gatewayId, opts.id, leaf);
  const client = await mqtt.connectAsync(opts.url, {
    clientId: opts.clientSuffix ? `${username}:${opts.clientSuffix}` : username,
    username,
    password: opts.password,
    keepalive: 30,
    reconnectPeriod: 0,
    will: { topic: topic('status'), payload: Buffer.from(JSON.stringify({ state: 'offline', reason: 'connection lost' })), qos: 1, retain: true },
    ...opts.mqtt,
  });
  // Small publishes must not wait for delayed ACKs (docs/mqtt.md "Connecting").
  (client.stream as Partial<Socket>).setNoDelay?.(true);

  const waiting = new Map<string, (d: DecisionPayload) => void>();
  const contents: ContentPayload[] = [];
  let seq = 0;
  client.on('message', (t, payload) => {
    if (t === topic('decision')) {
      const decision = JSON.parse(payload.toString()) as DecisionPayload;
      waiting.get(decision.id)?.(decision);
      waiting.delete(decision.id);
    } else if (t === topic('content')) {
      const content = JSON.parse(payload.toString()) as ContentPayload;
      contents.push(content);
      const status = opts.onContent ? opts.onContent(content) : 'shown';
      if (status) client.publish(topic('ack'), JSON.stringify({ contentId: content.contentId, status }), { qos: 1 });
    }
  });
  if (opts.type === 'reader') await client.subscribeAsync(topic('decision'), { qos: 1 });
  if (opts.type === 'sign') await client.subscribeAsync(topic('content'), { qos: 1 });

  return {
    client,
    contents,
    scan(credential, reader) {
      const id = `${opts.id}-${++seq}`;
      const answered = new Promise<DecisionPayload>((resolve) => waiting.set(id, resolve));
      const body = { id, credential, ...(reader === undefined ? {} : { reader }) };
      client.publish(topic('scan'), JSON.stringify(body), { qos: 1 });
      return answered;
    },
    async interact(item, action, holderRef) {
      await client.publishAsync(topic('interaction'), JSON.stringify({ item, action, ...(holderRef === undefined ? {} : { holderRef }) }), { qos: 1 });
    },
    async sighting(beacon, rssi, holderRef) {
      await client.publishAsync(topic('sighting'), JSON.stringify({ beacon, rssi, ...(holderRef === undefined ? {} : { holderRef }) }), { qos: 1 });
    },
    async close() {
      await client.publishAsync(topic('status'), JSON.stringify({ state: 'offline', reason: 'shutdown' }), { qos: 1, retain: true });
      await client.endAsync();
    },
  };
}

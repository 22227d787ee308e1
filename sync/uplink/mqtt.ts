import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { batchBody, type SendResult, type UplinkBatch, type UplinkTransport } from './transport.js';

export interface MqttTransportOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** Topic each batch is published to, e.g. `gatehouse/<gateway>/events`. */
  topic: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** How long to wait for PUBACK before calling the attempt failed (default 10 s). */
  timeoutMs?: number;
  /** Delay between reconnect attempts (default 1 s). */
  reconnectMs?: number;
}

/**
 * PUBACK reason codes that reject this batch rather than the connection
 * (MQTT 5 §3.4.2.1): payload format invalid and packet too large. The uplink
 * splits such a batch; every other failure is retried.
 */
const PERMANENT_PUBACK_CODES = new Set([0x95, 0x99]);

/**
 * MQTT uplink for operators whose central side is a broker cluster (EMQX,
 * HiveMQ, AWS IoT Core): each batch is one QoS 1 PUBLISH of a CloudEvents JSON
 * batch (MQTT 5 content type `application/cloudevents-batch+json`, the
 * idempotency key as a user property). The uplink marks rows delivered only
 * when `send` resolves ok, i.e. after the broker's PUBACK.
 */
export function mqttTransport(opts: MqttTransportOptions): UplinkTransport {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const options: IClientOptions = {
    clientId: opts.clientId,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: opts.reconnectMs ?? 1000,
    connectTimeout: timeoutMs,
    queueQoSZero: false,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.tls ?? {}),
  };
  const client: MqttClient = connect(opts.url, options);
  let lastError = '';
  // mqtt.js emits 'error' for refused connections; without a listener Node would throw.
  client.on('error', (err) => {
    lastError = err.message;
  });

  return {
    name: 'mqtt',
    connected: () => client.connected,
    async send(batch: UplinkBatch): Promise<SendResult> {
      if (!client.connected) {
        return { ok: false, retryable: true, code: 'GH_UPLINK_MQTT', message: `not connected to ${opts.url}${lastError ? `: ${lastError}` : ''}` };
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.publishAsync(opts.topic, batchBody(batch.rows), {
            qos: 1,
            properties: { contentType: 'application/cloudevents-batch+json', payloadFormatIndicator: true, userProperties: { 'idempotency-key': batch.key } },
          }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no PUBACK within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { ok: true };
      } catch (err) {
        const reason = (err as { code?: number }).code;
        const permanent = typeof reason === 'number' && PERMANENT_PUBACK_CODES.has(reason);
        return { ok: false, retryable: !permanent, code: 'GH_UPLINK_MQTT', message: `publish failed: ${(err as Error).message}` };
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      await client.endAsync(true);
    },
  };
}

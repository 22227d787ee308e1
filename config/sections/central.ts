import { z } from 'zod';
import { secretRefSchema } from '../common.js';

/** MQTT uplink, for operators whose central side is a broker cluster (docs/sync.md "MQTT uplink"). */
export const centralMqttSchema = z.strictObject({
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` URL of the broker. */
  url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
  /** Topic the event batches are published to (QoS 1). `{gateway}` is replaced by the gateway id. */
  topic: z.string().min(1).default('gatehouse/{gateway}/events'),
  /** Defaults to `gatehouse-<gateway id>`. */
  clientId: z.string().min(1).max(128).optional(),
  username: z.string().optional(),
  password: secretRefSchema.optional(),
});

/** The central CRM endpoint (DESIGN.md contract 2). Owned by sync/. */
export const centralSchema = z
  .strictObject({
    /** Base URL of the central API (entitlements always come over HTTP; events too unless `transport: mqtt`). */
    url: z.url(),
    token: secretRefSchema.optional(),
    /** Ed25519 public key (PEM or raw base64) that signs entitlement snapshots and changes. */
    publicKey: secretRefSchema.optional(),
    tls: z.strictObject({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).optional(),
    batchSize: z.number().int().positive().max(10_000).default(500),
    /**
     * After a batch that was not full, how long the uplink waits for more
     * events before sending the next: fewer, fuller batches under load. Adds
     * at most this much to the central lag; 0 sends at once.
     */
    lingerMs: z.number().int().min(0).max(10_000).default(100),
    timeoutMs: z.number().int().positive().default(10_000),
    /** How events go up: HTTP POST of batches (default) or QoS 1 MQTT publishes. */
    transport: z.enum(['http', 'mqtt']).default('http'),
    mqtt: centralMqttSchema.optional(),
    /** How long the central side may hold a change-feed request open. */
    pollTimeoutMs: z.number().int().min(1000).max(120_000).default(25_000),
    /** Longest wait between uplink retries (exponential backoff with jitter up to this). */
    maxBackoffMs: z.number().int().min(100).max(3_600_000).default(60_000),
  })
  .superRefine((c, ctx) => {
    if (c.transport === 'mqtt' && !c.mqtt) ctx.addIssue({ code: 'custom', path: ['mqtt'], message: 'transport "mqtt" needs an mqtt section (url, topic)' });
  });

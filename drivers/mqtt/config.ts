import { z } from 'zod';
import { idSchema } from '../../config/common.js';
import { parsePasswordHash } from './password.js';

/** What an MQTT device is; decides which topics of its subtree the gateway reads (docs/mqtt.md). */
export const MQTT_DEVICE_TYPES = ['sign', 'kiosk', 'reader', 'app'] as const;
export type MqttDeviceType = (typeof MQTT_DEVICE_TYPES)[number];

/** A topic filter granted to a device outside its own subtree, e.g. a venue-wide announcement topic. */
const grantSchema = z.strictObject({
  /** MQTT topic or filter; `{gateway}` is replaced by the gateway id. May not start with `$`. */
  topic: z
    .string()
    .min(1)
    .max(256)
    .refine((t) => !t.startsWith('$'), 'grants may not reach $-topics ($SYS)')
    .refine((t) => !t.includes('#') || t.endsWith('#'), '"#" is only allowed as the last level'),
  access: z.enum(['subscribe', 'publish', 'both']).default('subscribe'),
});
export type MqttGrant = z.infer<typeof grantSchema>;

/** Config of one `mqtt` device (an element of `devices:`). Owned by drivers/mqtt. */
export const mqttDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('mqtt'),
  type: z.enum(MQTT_DEVICE_TYPES),
  /** MQTT username; the client id must be the same string or `<username>:<suffix>` (one device cannot take over another's session). Defaults to the id. */
  username: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/).optional(),
  /** scrypt hash made by `gatehouse device add` (format in docs/mqtt.md); never the password itself. */
  passwordHash: z.string().refine((s) => parsePasswordHash(s) !== undefined, 'must be a hash made by `gatehouse device add` (scrypt$N$r$p$salt$hash)'),
  grants: z.array(grantSchema).max(32).default([]),
  limits: z
    .strictObject({
      /** Largest PUBLISH payload accepted from this device (bytes). */
      maxPayloadBytes: z.number().int().positive().max(1_048_576).default(16_384),
      /** Sustained publishes per second (token bucket refill rate). */
      publishPerSecond: z.number().positive().max(10_000).default(20),
      /** Bucket size: publishes allowed in a burst. */
      publishBurst: z.number().int().positive().max(100_000).default(40),
      /** Simultaneous connections of this device (client ids `<username>` and `<username>:<suffix>`). */
      maxConnections: z.number().int().positive().max(64).default(4),
    })
    .prefault({}),
});
export type MqttDeviceConfig = z.infer<typeof mqttDeviceSchema>;

/** The username a device authenticates with. */
export function usernameOf(device: Pick<MqttDeviceConfig, 'id' | 'username'>): string {
  return device.username ?? device.id;
}

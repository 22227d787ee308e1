import { z } from 'zod';
import { idSchema, secretRefSchema } from '../common.js';

/**
 * Several gateways of one venue sharing anti-passback and occupancy through a
 * broker the venue already runs (issue #11, docs/venue.md). Owned by sync/venue.
 * Without this section a gateway decides alone, exactly as before.
 */
export const venueSchema = z.strictObject({
  /** Venue id: the middle part of every venue topic (`<topicPrefix>/<id>/...`). The same on every gateway of the venue. */
  id: idSchema,
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` URL of the venue's shared broker. */
  url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
  /** First topic level(s) of the venue topics; no wildcards. */
  topicPrefix: z
    .string()
    .regex(/^[^#+]+$/, 'must not contain MQTT wildcards (+, #)')
    .refine((p) => !p.startsWith('/') && !p.endsWith('/'), 'must not start or end with "/"')
    .default('venue'),
  /** Ids of the other gateways of this venue; messages from any other id are ignored and counted (GH_VENUE_MESSAGE). */
  peers: z.array(idSchema).min(1),
  /** Defaults to `gatehouse-venue-<gateway id>`. */
  clientId: z.string().min(1).max(128).optional(),
  username: z.string().optional(),
  password: secretRefSchema.optional(),
  /** PEM files (relative to the config file) for mqtts:// / wss://: the broker's CA, and this gateway's client certificate and key for mutual TLS. */
  tls: z.strictObject({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).optional(),
  /** A peer whose clock differs from ours by more than this is reported (GH_VENUE_CLOCK_SKEW). */
  maxClockSkewMs: z.number().int().positive().default(2_000),
  /** How often this gateway refreshes its retained state snapshot while it has new movements. */
  snapshotIntervalMs: z.number().int().min(100).max(600_000).default(2_000),
  /** Movements of this gateway kept in its snapshot, so a peer that restarts or was cut off learns recent anti-passback positions. */
  recentMovements: z.number().int().min(10).max(100_000).default(10_000),
  /**
   * Anti-passback positions older than this are forgotten (the holder may pass
   * again as if never seen by the venue), so memory stays bounded. Occupancy
   * counters are not affected. Set the same on every gateway of the venue.
   */
  positionRetentionHours: z.number().positive().max(8_760).default(24),
  /** MQTT keepalive: a dead broker is noticed within about 1.5 times this. */
  keepaliveS: z.number().int().min(1).max(600).default(10),
  /** MQTT protocol version: 5 (default; lets the broker skip echoing our own moves) or 4 (3.1.1) for older brokers. */
  mqttVersion: z.union([z.literal(4), z.literal(5)]).default(5),
  /** Delay between reconnection attempts. */
  reconnectMs: z.number().int().min(100).max(60_000).default(1_000),
});
export type VenueConfig = z.infer<typeof venueSchema>;

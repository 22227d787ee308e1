import { z } from 'zod';

const portSchema = z.number().int().min(0).max(65535);

/**
 * The embedded MQTT broker for venue devices (DESIGN.md contract 3, docs/mqtt.md).
 * Owned by drivers/mqtt. Port 0 binds an ephemeral port (tests).
 */
export const brokerSchema = z.strictObject({
  /** Address of the plain-TCP listener (venue LAN). */
  host: z.string().default('0.0.0.0'),
  /** Plain-TCP port; `false` turns the plain listener off (TLS/WebSocket only). */
  port: z.union([portSchema, z.literal(false)]).default(1883),
  tls: z
    .strictObject({
      host: z.string().optional().describe('Defaults to `broker.host`.'),
      port: portSchema.default(8883),
      cert: z.string().min(1).describe('PEM certificate chain file (relative to the config file).'),
      key: z.string().min(1).describe('PEM private key file (relative to the config file).'),
    })
    .optional(),
  ws: z
    .strictObject({
      host: z.string().optional().describe('Defaults to `broker.host`.'),
      port: portSchema.default(8080),
      path: z.string().startsWith('/').default('/mqtt'),
    })
    .optional()
    .describe('MQTT over WebSocket for browser-based signage players.'),
  limits: z
    .strictObject({
      /** Connections over this number are refused (GH_MQTT_CONNECTIONS). */
      maxConnections: z.number().int().positive().default(500),
      /** Hard cap on any one MQTT packet (bytes); larger packets drop the connection before they are buffered. */
      maxPacketBytes: z.number().int().min(64).max(268_435_455).default(262_144),
      /** A socket that sends no CONNECT within this time is closed. */
      connectTimeoutMs: z.number().int().positive().default(10_000),
      /** Longest MQTT keepalive a client may ask for; 0 (no keepalive) is refused so half-open sockets are found. */
      maxKeepaliveS: z.number().int().positive().max(65_535).default(300),
      /** A subscriber whose socket does not drain within this time is disconnected, so it cannot stall others. */
      drainTimeoutMs: z.number().int().positive().default(5_000),
      /** TCP keepalive probe delay on every socket (finds peers that vanished without FIN). */
      tcpKeepaliveMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
});
export type BrokerConfig = z.infer<typeof brokerSchema>;

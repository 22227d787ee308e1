import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/**
 * Config of one `ble` device (an element of `devices:`): a radio on the
 * gateway that hears phones and wristbands advertising as beacons. Owned by drivers/ble (docs/ble.md).
 */
export const bleDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('ble'),
  /** `noble`: the host's Bluetooth adapter (needs root or cap_net_raw); `simulated`: advertisements from a Unix socket (tests, demo). */
  radio: z.enum(['noble', 'simulated']).default('noble'),
  /** The zone this radio covers: beacons it hears are placed in this zone. */
  zone: idSchema.optional(),
  /** Simulated radio: Unix socket path to listen on, one `HEX RSSI [ADDRESS]` line per advertisement. */
  socket: z.string().min(1).optional(),
  /** Only iBeacon proximity UUIDs in this list are reported (empty = all). */
  allowUuids: z.array(z.string().regex(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/, 'must be a UUID')).default([]),
  /** Only Eddystone namespaces in this list are reported (empty = all). */
  allowNamespaces: z.array(z.string().regex(/^[0-9a-fA-F]{20}$/, 'must be 20 hex digits')).default([]),
  /** RSSI outside these bounds is impossible for this radio and dropped (dBm). */
  rssiMin: z.number().int().min(-127).default(-110),
  rssiMax: z.number().int().max(20).default(0),
  /** Retry backoff when the radio is unavailable (ms), doubling up to the maximum. */
  retryMinMs: z.number().int().positive().default(1_000),
  retryMaxMs: z.number().int().positive().default(60_000),
});
export type BleDeviceConfig = z.infer<typeof bleDeviceSchema>;

import { z } from 'zod';

/** The embedded MQTT broker for venue devices (DESIGN.md contract 3). Owned by drivers/mqtt. */
export const brokerSchema = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(1883),
});

import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** An in-process simulated reader for the demo: presents credentials from a list at a steady rate. */
export const simDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('sim'),
  /** Reads per second this simulated reader produces. */
  ratePerSecond: z.number().positive().max(1000).default(2),
  /** Credentials to present, cycled in order (card values as in docs/credentials.md). */
  credentials: z.array(z.string().min(1)).min(1),
});
export type SimDeviceConfig = z.infer<typeof simDeviceSchema>;

import { z } from 'zod';
import { secretRefSchema } from '../common.js';

/** The local admin port: /healthz, /metrics, status page. Bound to localhost unless a token protects it. */
export const adminSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(9464),
  token: secretRefSchema.optional(),
});

import { z } from 'zod';
import { secretRefSchema } from '../common.js';

/** The central CRM endpoint (DESIGN.md contract 2). Owned by sync/. */
export const centralSchema = z.strictObject({
  url: z.url(),
  token: secretRefSchema.optional(),
  /** Ed25519 public key (PEM or raw base64) that signs entitlement snapshots and changes. */
  publicKey: secretRefSchema.optional(),
  tls: z.strictObject({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).optional(),
  batchSize: z.number().int().positive().max(10_000).default(500),
  timeoutMs: z.number().int().positive().default(10_000),
});

import { z } from 'zod';

/** Storage and outbox budget. Owned by sync/ (outbox). */
export const storageSchema = z.strictObject({
  /** Everything the gateway writes lives here (so the root filesystem can be read-only). Relative to the config file. */
  dataDir: z.string().min(1),
  outbox: z
    .strictObject({
      /** Disk budget of the outbox in bytes; above it low-priority events are shed. */
      maxBytes: z.number().int().positive().default(512 * 1024 * 1024),
      maxRows: z.number().int().positive().default(5_000_000),
      /** Delivered events are purged after this many hours. */
      retentionHours: z.number().positive().default(24),
      /** Group commit window: appends within it share one fsync. */
      groupCommitMs: z.number().int().min(0).max(1000).default(5),
    })
    .default({ maxBytes: 512 * 1024 * 1024, maxRows: 5_000_000, retentionHours: 24, groupCommitMs: 5 }),
});

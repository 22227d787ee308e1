import { z } from 'zod';

/** Identifiers used in topics, metric labels and file names: keep them boring. */
export const idSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit');

/**
 * A secret is never inline in the config (issue #2): it names a file (mode 0600)
 * or an environment variable.
 */
export const secretRefSchema = z.union([
  z.strictObject({ file: z.string().min(1).describe('Path of a file holding the secret (relative to the config file).') }),
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).describe('Name of an environment variable holding the secret.') }),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

/** Durations in config are plain milliseconds / seconds with the unit in the key name. */
export const positiveMs = z.number().int().positive();

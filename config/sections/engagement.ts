import { z } from 'zod';

/** Beacons and content rules. Owned by gateway/engagement and gateway/rules. */
export const beaconsSchema = z.array(z.strictObject({ id: z.string() })).default([]);
export const rulesSchema = z.array(z.strictObject({ id: z.string() })).default([]);

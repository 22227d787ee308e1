import { z } from 'zod';
import { idSchema } from '../common.js';

/** Zones and lanes (DESIGN.md "Access decisions"). Owned by gateway/access. */
export const antiPassbackSchema = z
  .strictObject({
    /** hard: deny re-entry without an exit; soft: grant and flag; timed: deny re-entry within `minutes`. */
    mode: z.enum(['none', 'hard', 'soft', 'timed']).default('none'),
    minutes: z.number().positive().optional(),
    /**
     * hard/soft: a position older than this many hours is forgotten, so a holder
     * who left without badging out (an open exit, a fire door) can enter again the
     * next day. Unset: positions never expire.
     */
    resetAfterHours: z.number().positive().max(24 * 366).optional(),
  })
  .refine((apb) => apb.mode !== 'timed' || apb.minutes !== undefined, { message: 'timed anti-passback needs "minutes"', path: ['minutes'] })
  .refine((apb) => apb.resetAfterHours === undefined || apb.mode === 'hard' || apb.mode === 'soft', {
    message: '"resetAfterHours" applies to hard and soft anti-passback only',
    path: ['resetAfterHours'],
  });

export const zoneSchema = z.strictObject({
  id: idSchema,
  name: z.string().optional(),
  /** Occupancy cap: entries are denied when this many people are inside. */
  capacity: z.number().int().positive().optional(),
  antiPassback: antiPassbackSchema.default({ mode: 'none' }),
  /** Log-distance path-loss exponent for BLE distance estimates in this zone (2 = free space). */
  pathLossExponent: z.number().min(1).max(6).default(2.2),
});
export type ZoneConfig = z.infer<typeof zoneSchema>;

export const laneSchema = z.strictObject({
  id: idSchema,
  name: z.string().optional(),
  /** The reader feeding this lane: a device id, plus the reader on it when the device is a bus (OSDP address). */
  reader: z.strictObject({ device: idSchema, reader: z.string().optional() }),
  /** Where to pulse the release relay; defaults to the reader device (OSDP OUT). */
  output: z
    .strictObject({ device: idSchema, output: z.string().optional(), pulseMs: z.number().int().min(0).max(60_000).default(1000) })
    .optional(),
  zone: idSchema,
  direction: z.enum(['in', 'out']).default('in'),
  /** What to do when the entitlement cache is missing, corrupt or stale. Egress lanes default to open. */
  fail: z.enum(['open', 'closed']).optional(),
  /** Cache older than this is stale (hours). */
  maxCacheAgeHours: z.number().positive().default(72),
  /**
   * When the venue link (config `venue:`) cannot vouch for shared anti-passback and occupancy
   * (link down or not caught up): `grant` decides from local knowledge and flags `apbUnverified`;
   * `deny` refuses entries (reason `anti_passback`, flagged). Exits are never refused for it. Default grant.
   */
  apbUnverified: z.enum(['grant', 'deny']).optional(),
});
export type LaneConfig = z.infer<typeof laneSchema>;

import { z } from 'zod';
import { idSchema } from '../common.js';

/**
 * Beacons, proximity/visit settings and content rules. Owned by
 * gateway/engagement and gateway/rules (docs/ble.md, docs/rules.md).
 */

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');
const uuidText = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/, 'must be a UUID (32 hex digits, dashes optional)');

/**
 * A fixed beacon placed in a zone. Phones that hear it (venue app, kiosk)
 * report it over MQTT; the `sighting.beacon` they send is this `id` or the
 * beacon's key (`ibeacon:<uuid>:<major>:<minor>` / `eddystone:<namespace>:<instance>`).
 */
export const beaconSchema = z
  .strictObject({
    id: idSchema,
    zone: idSchema,
    ibeacon: z.strictObject({ uuid: uuidText, major: z.number().int().min(0).max(0xffff), minor: z.number().int().min(0).max(0xffff) }).optional(),
    eddystone: z.strictObject({ namespace: z.string().regex(/^[0-9a-fA-F]{20}$/), instance: z.string().regex(/^[0-9a-fA-F]{12}$/) }).optional(),
    /** Calibrated RSSI at 1 m, when the reports do not carry it (dBm). */
    measuredPower: z.number().int().min(-127).max(20).optional(),
  })
  .refine((b) => !(b.ibeacon && b.eddystone), { message: 'a beacon is either ibeacon or eddystone, not both' });
export const beaconsSchema = z.array(beaconSchema).default([]);
export type BeaconConfig = z.infer<typeof beaconSchema>;

export const timeWindowSchema = z.strictObject({
  from: hhmm,
  to: hhmm,
  /** Days of week, 0 = Sunday … 6 = Saturday; absent = every day. */
  days: z.array(z.number().int().min(0).max(6)).min(1).optional(),
});
export type TimeWindow = z.infer<typeof timeWindowSchema>;

/** Short event names a rule can match; each maps to one CloudEvent type (docs/events.md). */
export const RULE_EVENT_NAMES = [
  'visit.started',
  'visit.ended',
  'visit.first',
  'visit.streak',
  'zone.entered',
  'zone.dwelled',
  'zone.exited',
  'kiosk.interaction',
  'access.granted',
  'access.denied',
] as const;

const rangeSchema = z.strictObject({ min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() });
const capSchema = z.strictObject({ count: z.number().int().positive(), windowS: z.number().int().positive() });

export const ruleSchema = z.strictObject({
  id: idSchema,
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  when: z.strictObject({
    event: z.union([z.enum(RULE_EVENT_NAMES), z.array(z.enum(RULE_EVENT_NAMES)).min(1)]),
    zones: z.array(idSchema).min(1).optional(),
    lanes: z.array(idSchema).min(1).optional(),
    tiers: z.array(z.string().min(1)).min(1).optional(),
    /** The holder's visit count (including the current visit). */
    visitCount: rangeSchema.optional(),
    /** Local time windows (gateway.timezone); any one matching is enough. */
    timeWindows: z.array(timeWindowSchema).min(1).optional(),
    /** Holder attributes that must equal these values (from the holder directory). */
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** Kiosk interactions: the item and/or action. */
    item: z.string().optional(),
    action: z.string().optional(),
  }),
  send: z.strictObject({
    content: z.string().min(1),
    signs: z.array(idSchema).min(1),
    durationMs: z.number().int().positive().max(3_600_000).default(15_000),
    /** Template variables; `{tier}`, `{zone}` and `{visitCount}` are filled from the event. */
    vars: z.record(z.string(), z.string()).optional(),
  }),
  /** Higher wins when several rules want the same sign for one event. */
  priority: z.number().int().min(0).max(1000).default(100),
  /**
   * Personalised rules (the default) fire only for holders who consented to
   * personalisation. A rule with `personalised: false` shows generic content and
   * never sends the holder's id or attributes to the sign.
   */
  personalised: z.boolean().default(true),
  /** The same holder gets this rule at most once per cooldown. */
  cooldownS: z.number().int().min(0).default(0),
  caps: z
    .strictObject({
      /** This rule sends at most `count` contents to one holder per `windowS` seconds. */
      perHolder: capSchema.optional(),
      /** This rule sends at most `count` contents to one sign per `windowS` seconds. */
      perSign: capSchema.optional(),
    })
    .default({}),
  /** Local times when this rule sends nothing (added to `engagement.quietHours`). */
  quietHours: z.array(timeWindowSchema).optional(),
  /** Percentage of holders (deterministic by holder + rule) held out as a control group: they get a `withheld` event, no content. */
  controlGroupPercent: z.number().min(0).max(100).default(0),
});
export const rulesSchema = z.array(ruleSchema).default([]);
export type RuleConfig = z.infer<typeof ruleSchema>;

/** Proximity tracker and visit settings (the `engagement:` section). */
export const engagementSchema = z.strictObject({
  proximity: z
    .strictObject({
      smoothing: z.enum(['ema', 'kalman']).default('kalman'),
      /** EMA weight of a new sample (0..1]. */
      emaAlpha: z.number().gt(0).max(1).default(0.3),
      /** Kalman process noise (dB² per second) and measurement noise (dB²). */
      kalmanProcessNoise: z.number().positive().default(1),
      kalmanMeasurementNoise: z.number().positive().default(16),
      /** Inside a zone once the estimated distance is at most this (m)... */
      enterDistanceM: z.number().positive().default(4),
      /** ...and outside again only beyond this (m): the gap is the hysteresis. */
      exitDistanceM: z.number().positive().default(7),
      /** Samples needed before a track may enter a zone (the filter must settle first). */
      minSamples: z.number().int().min(1).default(3),
      /** No enter/exit pair is shorter than this: an exit waits until the stay lasted this long. */
      minDwellMs: z.number().int().min(0).default(10_000),
      /** Outside (beyond exitDistanceM) for this long before the exit is decided. */
      exitAfterMs: z.number().int().min(0).default(5_000),
      /** No sighting for this long: the person left the zone. */
      lostAfterMs: z.number().int().positive().default(30_000),
      /** `zone.dwelled` once per stay after this long inside. */
      dwellEventMs: z.number().int().positive().default(300_000),
      /** Default calibrated RSSI at 1 m when neither the frame nor the beacon config gives one. */
      defaultMeasuredPower: z.number().int().min(-127).max(20).default(-59),
      /** RSSI outside these bounds is impossible and ignored (dBm). */
      rssiMin: z.number().int().default(-110),
      rssiMax: z.number().int().default(0),
    })
    .prefault({})
    .refine((p) => p.exitDistanceM > p.enterDistanceM, { message: 'exitDistanceM must be greater than enterDistanceM (hysteresis)', path: ['exitDistanceM'] })
    .refine((p) => p.rssiMax > p.rssiMin, { message: 'rssiMax must be greater than rssiMin', path: ['rssiMax'] }),
  /** First day of a season, MM-DD in gateway.timezone (first-of-season events). */
  seasonStart: z.string().regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be MM-DD').default('01-01'),
  /** A visit with no exit ends after this many hours (the holder left by an unmonitored gate). */
  visitTimeoutHours: z.number().positive().default(12),
  /** Local times when no rule sends content. */
  quietHours: z.array(timeWindowSchema).default([]),
  /** Visit history is written at most this often (SD-card wear), 500 rows per transaction, one transaction per turn of the event loop. */
  flushIntervalMs: z.number().int().min(100).default(10_000),
  /** How often ended ticketed events are checked for no-shows. */
  noShowCheckMs: z.number().int().min(1000).default(60_000),
});
export type EngagementConfig = z.infer<typeof engagementSchema>;

/**
 * Cross-references the root schema checks (config/schema.ts superRefine):
 * beacons name known zones, rules name known zones and lanes, ids are unique.
 */
export function checkEngagementReferences(
  cfg: { zones: Array<{ id: string }>; lanes: Array<{ id: string }>; devices: Array<{ id: string; driver: string; zone?: string }>; beacons: BeaconConfig[]; rules: RuleConfig[] },
  ctx: { addIssue(issue: { code: 'custom'; path: Array<string | number>; message: string }): void },
): void {
  const zones = new Set(cfg.zones.map((z) => z.id));
  const lanes = new Set(cfg.lanes.map((l) => l.id));
  cfg.devices.forEach((d, i) => {
    if (d.driver === 'ble' && d.zone !== undefined && !zones.has(d.zone)) ctx.addIssue({ code: 'custom', path: ['devices', i, 'zone'], message: `no zone "${d.zone}" in zones` });
  });
  const seenBeacons = new Set<string>();
  cfg.beacons.forEach((b, i) => {
    if (seenBeacons.has(b.id)) ctx.addIssue({ code: 'custom', path: ['beacons', i, 'id'], message: `duplicate id "${b.id}"` });
    seenBeacons.add(b.id);
    if (!zones.has(b.zone)) ctx.addIssue({ code: 'custom', path: ['beacons', i, 'zone'], message: `no zone "${b.zone}" in zones` });
  });
  const seenRules = new Set<string>();
  cfg.rules.forEach((r, i) => {
    if (seenRules.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate id "${r.id}"` });
    seenRules.add(r.id);
    r.when.zones?.forEach((z, k) => {
      if (!zones.has(z)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'when', 'zones', k], message: `no zone "${z}" in zones` });
    });
    r.when.lanes?.forEach((l, k) => {
      if (!lanes.has(l)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'when', 'lanes', k], message: `no lane "${l}" in lanes` });
    });
  });
}

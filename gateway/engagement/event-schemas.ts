import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { EventPriority } from '../events/cloudevent.js';

/**
 * The `data` of every CloudEvent type Gatehouse emits, as zod schemas. One
 * source for the code (tests validate emitted events against it) and for
 * docs/events.md (the JSON Schemas there are generated from these; a test keeps them in step).
 */

const zoneId = z.string().describe('Zone id from the config.');
const rfc3339 = z.string().describe('RFC 3339 time.');

export const accessDecisionData = z
  .strictObject({
    lane: z.string(),
    zone: zoneId,
    direction: z.enum(['in', 'out']),
    reason: z.string().describe('Stable reason code (docs/access.md).'),
    flags: z
      .strictObject({
        offline: z.boolean().optional(),
        apbViolation: z.boolean().optional(),
        cacheStale: z.boolean().optional(),
        failMode: z.boolean().optional(),
        firstEntryOfDay: z.boolean().optional(),
        clockUnsynced: z.boolean().optional(),
        apbUnverified: z.boolean().optional(),
      })
      .describe('Decision flags (gateway/core/types.ts DecisionFlags).'),
    device: z.string().describe('Reader device id.'),
    reader: z.string().optional().describe('Reader on a bus (OSDP address).'),
  })
  .describe('An access decision; subject is the holder ref when the credential matched a holder.');

export const deviceStatusData = z.strictObject({
  device: z.string(),
  reader: z.string().optional(),
  reason: z.string().optional().describe('Why, when offline; names the fix where one is known.'),
});

const venueMovementRef = z.strictObject({ gateway: z.string(), seq: z.number().int(), at: z.string().describe('RFC 3339') });

/** `io.gatehouse.venue.conflict` (sync/venue, issue #11): two gates granted the same holder entry during a partition. */
export const venueConflictData = z.strictObject({
  key: z.string().describe('Stable id of the conflict: the venue reports it once.'),
  zone: z.string(),
  first: venueMovementRef,
  second: venueMovementRef,
});

export const alarmData = z.strictObject({
  kind: z.enum([
    'door_forced',
    'door_held',
    'reader_tamper',
    'reader_offline',
    'storage_low',
    'outbox_full',
    'clock_unsynced',
    'cache_corrupt',
    'snapshot_rejected',
    'driver_failed',
    'link_down',
    'apb_conflict',
  ]),
  source: z.string(),
  code: z.string().optional().describe('Stable GH_* error code (docs/errors.md).'),
  message: z.string(),
  at: z.number().describe('Wall-clock ms.'),
  active: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const visitStartedData = z.strictObject({
  zone: zoneId,
  lane: z.string(),
  device: z.string(),
  visitCount: z.number().int().positive().describe('Visits of this holder at this gateway, this one included.'),
  firstEver: z.boolean(),
  firstOfSeason: z.boolean(),
  season: z.string().describe('Season label: the year, or "2026/27" when seasons do not start on 1 January; empty while the clock is unsynchronised.'),
  streakDays: z.number().int().positive().describe('Consecutive local days with a visit.'),
  streakWeeks: z.number().int().positive().describe('Consecutive ISO weeks with a visit.'),
});

export const visitEndedData = z.strictObject({
  zone: zoneId,
  lane: z.string().optional().describe('Exit lane; absent when the visit timed out.'),
  device: z.string().optional(),
  dwellS: z.number().nonnegative().describe('Seconds from entry to exit (monotonic clock).'),
  reason: z.enum(['exit', 'timeout']).describe('exit: an exit decision; timeout: no exit within engagement.visitTimeoutHours.'),
  startedAt: rfc3339,
});

export const visitFirstData = z.strictObject({
  scope: z.enum(['ever', 'season']),
  season: z.string(),
  zone: zoneId,
});

export const visitStreakData = z.strictObject({
  unit: z.enum(['day', 'week']),
  length: z.number().int().min(2),
  zone: zoneId,
});

const deviceIds = {
  beacon: z.string().optional().describe('Beacon key; only with consent.'),
  observer: z.string().optional().describe('Radio or phone that heard it; only with consent.'),
};

export const zoneEnteredData = z.strictObject({
  zone: zoneId,
  distanceM: z.number().nonnegative().describe('Estimated distance when the entry was decided (log-distance model).'),
  pseudonymised: z.boolean().describe('True when device identifiers were removed (no consent or no known holder).'),
  ...deviceIds,
});

export const zoneDwelledData = z.strictObject({
  zone: zoneId,
  dwellS: z.number().nonnegative(),
  pseudonymised: z.boolean(),
  ...deviceIds,
});

export const zoneExitedData = z.strictObject({
  zone: zoneId,
  dwellS: z.number().nonnegative(),
  reason: z.enum(['moved_away', 'lost']).describe('moved_away: signal weakened past the exit distance; lost: not heard for lostAfterMs.'),
  pseudonymised: z.boolean(),
  ...deviceIds,
});

export const kioskInteractionData = z.strictObject({
  device: z.string().describe('Kiosk device id.'),
  item: z.string(),
  action: z.string(),
  data: z.record(z.string(), z.unknown()).optional().describe('Kiosk-supplied details; only with consent.'),
  pseudonymised: z.boolean(),
});

export const signageShownData = z.strictObject({
  sign: z.string(),
  content: z.string(),
  contentId: z.string(),
  rule: z.string(),
});

export const signageWithheldData = z.strictObject({
  signs: z.array(z.string()),
  content: z.string(),
  rule: z.string(),
  reason: z.literal('control_group'),
  trigger: z.string().describe('Rule event name that matched, e.g. zone.entered.'),
});

export const noShowData = z.strictObject({
  ticketEvent: z.string().describe('Id of the ticketed event.'),
  start: rfc3339,
  end: rfc3339,
});

export interface EventTypeSpec {
  type: string;
  producer: 'engagement' | 'composition root' | 'venue link (sync/venue)';
  priority: EventPriority;
  subject: 'holder' | 'holder when known' | 'none';
  description: string;
  data: z.ZodType;
}

export const EVENT_TYPES = {
  accessGranted: 'io.gatehouse.access.granted',
  accessDenied: 'io.gatehouse.access.denied',
  deviceOnline: 'io.gatehouse.device.online',
  deviceOffline: 'io.gatehouse.device.offline',
  alarmRaised: 'io.gatehouse.alarm.raised',
  alarmCleared: 'io.gatehouse.alarm.cleared',
  venueConflict: 'io.gatehouse.venue.conflict',
  visitStarted: 'io.gatehouse.visit.started',
  visitEnded: 'io.gatehouse.visit.ended',
  visitFirst: 'io.gatehouse.visit.first',
  visitStreak: 'io.gatehouse.visit.streak',
  zoneEntered: 'io.gatehouse.zone.entered',
  zoneDwelled: 'io.gatehouse.zone.dwelled',
  zoneExited: 'io.gatehouse.zone.exited',
  kioskInteraction: 'io.gatehouse.kiosk.interaction',
  signageShown: 'io.gatehouse.signage.shown',
  signageWithheld: 'io.gatehouse.signage.withheld',
  noShow: 'io.gatehouse.ticket.noshow',
} as const;

export const EVENT_CATALOGUE: EventTypeSpec[] = [
  { type: EVENT_TYPES.accessGranted, producer: 'composition root', priority: 'access', subject: 'holder when known', description: 'A reader was granted access.', data: accessDecisionData },
  { type: EVENT_TYPES.accessDenied, producer: 'composition root', priority: 'access', subject: 'holder when known', description: 'A reader was denied access.', data: accessDecisionData },
  { type: EVENT_TYPES.deviceOnline, producer: 'composition root', priority: 'telemetry', subject: 'none', description: 'A device (or a reader on a bus) came online.', data: deviceStatusData },
  { type: EVENT_TYPES.deviceOffline, producer: 'composition root', priority: 'alarm', subject: 'none', description: 'A device (or a reader on a bus) went offline or became unavailable.', data: deviceStatusData },
  { type: EVENT_TYPES.alarmRaised, producer: 'composition root', priority: 'alarm', subject: 'none', description: 'An alarm was raised (door forced/held, tamper, storage low, clock unsynced...).', data: alarmData },
  { type: EVENT_TYPES.alarmCleared, producer: 'composition root', priority: 'alarm', subject: 'none', description: 'An alarm condition cleared.', data: alarmData },
  { type: EVENT_TYPES.venueConflict, producer: 'venue link (sync/venue)', priority: 'alarm', subject: 'holder', description: 'Two gateways of the venue granted the same holder entry to an anti-passback zone while they could not see each other (a partition); reported once, by the gateway that granted the second entry.', data: venueConflictData },
  { type: EVENT_TYPES.visitStarted, producer: 'engagement', priority: 'engagement', subject: 'holder', description: 'A granted entry started a visit.', data: visitStartedData },
  { type: EVENT_TYPES.visitEnded, producer: 'engagement', priority: 'engagement', subject: 'holder', description: 'A granted exit (or the visit timeout) ended a visit.', data: visitEndedData },
  { type: EVENT_TYPES.visitFirst, producer: 'engagement', priority: 'engagement', subject: 'holder', description: 'The first visit ever, or the first of the season (sent beside visit.started).', data: visitFirstData },
  { type: EVENT_TYPES.visitStreak, producer: 'engagement', priority: 'engagement', subject: 'holder', description: 'A visit extended a streak of consecutive days or weeks to `length` (2 or more).', data: visitStreakData },
  { type: EVENT_TYPES.zoneEntered, producer: 'engagement', priority: 'presence', subject: 'holder when known', description: 'A person was decided to be in a zone (BLE proximity).', data: zoneEnteredData },
  { type: EVENT_TYPES.zoneDwelled, producer: 'engagement', priority: 'presence', subject: 'holder when known', description: 'A person stayed in a zone past engagement.proximity.dwellEventMs (once per stay).', data: zoneDwelledData },
  { type: EVENT_TYPES.zoneExited, producer: 'engagement', priority: 'presence', subject: 'holder when known', description: 'A person left a zone.', data: zoneExitedData },
  { type: EVENT_TYPES.kioskInteraction, producer: 'engagement', priority: 'engagement', subject: 'holder when known', description: 'A kiosk reported an interaction.', data: kioskInteractionData },
  { type: EVENT_TYPES.signageShown, producer: 'engagement', priority: 'engagement', subject: 'holder when known', description: 'A sign acknowledged showing triggered content.', data: signageShownData },
  { type: EVENT_TYPES.signageWithheld, producer: 'engagement', priority: 'engagement', subject: 'holder when known', description: 'A rule matched but the holder is in its control group: no content was sent.', data: signageWithheldData },
  { type: EVENT_TYPES.noShow, producer: 'engagement', priority: 'engagement', subject: 'holder', description: 'A ticket holder never entered by the time the ticketed event ended.', data: noShowData },
];

/** JSON Schema (draft 2020-12) of one event type's `data`. */
export function dataJsonSchema(spec: EventTypeSpec): Record<string, unknown> {
  const schema = z.toJSONSchema(spec.data, { io: 'output' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}

export const GENERATED_BEGIN = '<!-- BEGIN GENERATED: event catalogue (gateway/engagement/event-schemas.ts) -->';
export const GENERATED_END = '<!-- END GENERATED -->';

/** The generated part of docs/events.md. */
export function renderEventCatalogue(): string {
  const parts = [GENERATED_BEGIN, ''];
  for (const spec of EVENT_CATALOGUE) {
    parts.push(`### \`${spec.type}\``, '');
    parts.push(spec.description, '');
    parts.push(`Producer: ${spec.producer}. Outbox priority: \`${spec.priority}\`. Subject: ${spec.subject}.`, '');
    parts.push('```json', JSON.stringify(dataJsonSchema(spec), null, 2), '```', '');
  }
  parts.push(GENERATED_END);
  return parts.join('\n');
}

/** Replaces the generated block of a doc page (or appends it when the page has none). */
export function writeEventsDoc(path: string): void {
  const text = readFileSync(path, 'utf8');
  const begin = text.indexOf(GENERATED_BEGIN);
  const end = text.indexOf(GENERATED_END);
  const next = begin >= 0 && end > begin ? text.slice(0, begin) + renderEventCatalogue() + text.slice(end + GENERATED_END.length) : `${text.trimEnd()}\n\n${renderEventCatalogue()}\n`;
  writeFileSync(path, next);
}

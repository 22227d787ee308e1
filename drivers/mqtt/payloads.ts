import { z } from 'zod';
import type { ErrorCode } from '../../gateway/errors.js';

/**
 * The JSON payloads of the topic contract (docs/mqtt.md). Device -> gateway
 * payloads are validated here, strictly: unknown keys are refused so a device
 * maker's typo shows up at once on `…/error` instead of being ignored.
 */

const text = (max: number) => z.string().min(1).max(max);
/** A device clock is informational only: the gateway times everything by its own clock. */
const deviceTime = z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).describe('When the device saw it: ms since the epoch or RFC 3339. Informational.');
const holderRef = text(128).describe('Pseudonymous holder id, when the device identified the holder.');

export const statusPayload = z.strictObject({
  state: z.enum(['online', 'offline']),
  reason: z.string().max(256).optional(),
  at: deviceTime.optional(),
});

export const scanPayload = z.strictObject({
  id: text(64).describe('Request id chosen by the reader; echoed in the decision.'),
  credential: z.strictObject({
    kind: z.enum(['card', 'pin', 'barcode', 'mobile']),
    // Printable text only: no reader sends control bytes, and they would end up in logs.
    value: text(512).regex(/^[^\p{Cc}]+$/u, 'must not contain control characters'),
    format: text(32).optional(),
  }),
  reader: text(32).regex(/^[A-Za-z0-9_-]+$/).optional().describe('Sub-reader on this device (e.g. "in", "out"), echoed in the decision.'),
  at: deviceTime.optional(),
});

const interactionValue = z.union([z.string().max(256), z.number(), z.boolean(), z.null()]);
export const interactionPayload = z.strictObject({
  item: text(64).describe('What was touched: screen, button or product id.'),
  action: text(32).describe('What happened: "view", "tap", "dwell", "purchase", ...'),
  holderRef: holderRef.optional(),
  data: z
    .record(z.string().max(64), interactionValue)
    .refine((d) => Object.keys(d).length <= 32, 'at most 32 keys')
    .optional(),
  at: deviceTime.optional(),
});

export const ackPayload = z.strictObject({
  contentId: text(64).describe('The contentId of the content message being acknowledged.'),
  status: z.enum(['shown', 'skipped']),
  reason: z.string().max(256).optional().describe('Why it was skipped.'),
  at: deviceTime.optional(),
});

export const sightingPayload = z.strictObject({
  beacon: text(128).describe('Beacon id as configured in `beacons:` (e.g. iBeacon "uuid:major:minor").'),
  rssi: z.number().int().min(-127).max(20),
  txPower: z.number().int().min(-127).max(20).optional(),
  holderRef: holderRef.optional(),
  at: deviceTime.optional(),
});

/** Gateway -> reader. */
export const decisionPayload = z.strictObject({
  id: z.string().describe('The request id of the scan, echoed.'),
  reader: z.string().optional(),
  result: z.enum(['granted', 'denied']),
  reason: z.string().describe('Stable reason code (docs/access.md).'),
  display: z.string().optional().describe('Short text to show.'),
  pulseMs: z.number().int().nonnegative().describe('How long to release the lock/relay when granted; 0 for none.'),
  at: z.iso.datetime().describe('Decision time, RFC 3339.'),
});

/** Gateway -> sign. */
export const contentPayload = z.strictObject({
  contentId: z.string(),
  content: z.string().describe('Named content the sign knows (template / playlist item).'),
  durationMs: z.number().int().nonnegative(),
  priority: z.number().int(),
  vars: z.record(z.string(), z.string()).optional(),
  at: z.iso.datetime(),
});

/** Gateway -> device, when something it sent was refused. */
export const errorPayload = z.strictObject({
  code: z.string().describe('GH_MQTT_* code (docs/errors.md).'),
  topic: z.string(),
  message: z.string(),
});

export type ScanPayload = z.infer<typeof scanPayload>;
export type InteractionPayload = z.infer<typeof interactionPayload>;
export type AckPayload = z.infer<typeof ackPayload>;
export type SightingPayload = z.infer<typeof sightingPayload>;
export type StatusPayload = z.infer<typeof statusPayload>;
export type DecisionPayload = z.infer<typeof decisionPayload>;
export type ContentPayload = z.infer<typeof contentPayload>;

export const INBOUND_SCHEMAS = {
  status: statusPayload,
  scan: scanPayload,
  interaction: interactionPayload,
  ack: ackPayload,
  sighting: sightingPayload,
} as const;
export type InboundLeaf = keyof typeof INBOUND_SCHEMAS;

export type Decoded<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

/** JSON.parse + schema check; never throws, whatever the bytes. */
export function decodePayload<T>(schema: z.ZodType<T>, payload: Buffer | Uint8Array): Decoded<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'GH_MQTT_PAYLOAD', message: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { ok: false, code: 'GH_MQTT_PAYLOAD', message: `schema: ${where}${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: parsed.data };
}

/** JSON Schema (draft 2020-12) of every payload, for docs/mqtt.md and device makers' validators. */
export function payloadJsonSchemas(): Record<string, Record<string, unknown>> {
  const all = { status: statusPayload, scan: scanPayload, decision: decisionPayload, interaction: interactionPayload, content: contentPayload, ack: ackPayload, sighting: sightingPayload, error: errorPayload };
  return Object.fromEntries(Object.entries(all).map(([k, s]) => [k, z.toJSONSchema(s, { io: 'input' }) as Record<string, unknown>]));
}

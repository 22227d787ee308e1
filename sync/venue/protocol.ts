import type { Direction } from '../../gateway/core/types.js';

/**
 * The venue wire protocol (docs/venue.md "Messages"). JSON over MQTT, QoS 1.
 * Topics, under `<prefix>/<venue>/`:
 *   move/<gatewayId>   one movement, live (not retained)
 *   state/<gatewayId>  the gateway's counters and recent movements (retained)
 *   sync/<gatewayId>   catch-up marker a gateway sends itself after subscribing;
 *                      peers answer it by refreshing their retained state
 * Nothing personal travels beyond the pseudonymous holder ref.
 */
export const PROTOCOL_VERSION = 1;

/** One grant that moved somebody in or out of a zone, as its gateway numbered it. */
export interface VenueMovement {
  gatewayId: string;
  /** Per-gateway sequence, 1, 2, 3... with no gaps: the gateway's movements in the order it decided them. */
  seq: number;
  /** Absent for anonymous fail-open passages (they only move occupancy). */
  holderRef?: string;
  zoneId: string;
  direction: Direction;
  /** Wall-clock ms at the deciding gateway. */
  at: number;
}

/** Entries and exits one gateway granted into one zone, since it was first set up. */
export interface ZoneCounter {
  in: number;
  out: number;
}

/** A gateway's own state: counters covering every movement up to `seq`, and its latest movements. */
export interface OriginSnapshot {
  gatewayId: string;
  seq: number;
  counters: Record<string, ZoneCounter>;
  recent: VenueMovement[];
}

export type VenueMessage =
  | { type: 'move'; movement: VenueMovement; sentAt: number }
  | { type: 'state'; snapshot: OriginSnapshot; sentAt: number }
  | { type: 'sync'; gatewayId: string; nonce: string; sentAt: number };

export type VenueMessageType = VenueMessage['type'];

/** Largest accepted payloads: a move is tiny; a snapshot holds up to 100,000 recent movements. */
export const MAX_MOVE_BYTES = 1_024;
export const MAX_STATE_BYTES = 16 * 1024 * 1024;
const MAX_REF = 128;
const ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface VenueTopics {
  move: (gatewayId: string) => string;
  state: (gatewayId: string) => string;
  sync: (gatewayId: string) => string;
  /** Subscription filters. */
  filters: { move: string; state: string; sync: string };
  /** `{ type, gatewayId }` of a topic under this venue, or undefined. */
  parse: (topic: string) => { type: VenueMessageType; gatewayId: string } | undefined;
}

export function venueTopics(prefix: string, venueId: string): VenueTopics {
  const base = `${prefix}/${venueId}/`;
  return {
    move: (g) => `${base}move/${g}`,
    state: (g) => `${base}state/${g}`,
    sync: (g) => `${base}sync/${g}`,
    filters: { move: `${base}move/+`, state: `${base}state/+`, sync: `${base}sync/+` },
    parse(topic) {
      if (!topic.startsWith(base)) return undefined;
      const rest = topic.slice(base.length).split('/');
      if (rest.length !== 2) return undefined;
      const [type, gatewayId] = rest as [string, string];
      if (type !== 'move' && type !== 'state' && type !== 'sync') return undefined;
      return { type, gatewayId };
    },
  };
}

// Compact wire forms: a snapshot of 10,000 movements stays well under a megabyte.
// move:  { v, t: 'move', g, s, h?, z, d: 'i'|'o', a, at }
// state: { v, t: 'state', g, s, c: { zone: [in, out] }, r: [[seq, holder|null, zone, 'i'|'o', at], ...], at }
// sync:  { v, t: 'sync', g, n, at }
const dirCode = (d: Direction): 'i' | 'o' => (d === 'in' ? 'i' : 'o');

export function encodeMove(m: VenueMovement, sentAt: number): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, t: 'move', g: m.gatewayId, s: m.seq, ...(m.holderRef !== undefined ? { h: m.holderRef } : {}), z: m.zoneId, d: dirCode(m.direction), a: m.at, at: sentAt });
}

export function encodeState(s: OriginSnapshot, sentAt: number): string {
  const c: Record<string, [number, number]> = {};
  for (const [zone, k] of Object.entries(s.counters)) c[zone] = [k.in, k.out];
  const r = s.recent.map((m) => [m.seq, m.holderRef ?? null, m.zoneId, dirCode(m.direction), m.at]);
  return JSON.stringify({ v: PROTOCOL_VERSION, t: 'state', g: s.gatewayId, s: s.seq, c, r, at: sentAt });
}

export function encodeSync(gatewayId: string, nonce: string, sentAt: number): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, t: 'sync', g: gatewayId, n: nonce, at: sentAt });
}

export type DecodeResult = { ok: true; message: VenueMessage } | { ok: false; reason: string };

const fail = (reason: string): DecodeResult => ({ ok: false, reason });
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && ID.test(v);
const isRef = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_REF;
const isDir = (v: unknown): v is 'i' | 'o' => v === 'i' || v === 'o';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Decodes a payload received on `topic`. Pure and total: any byte string gives
 * a message or a reason, never an exception. The gateway id in the payload must
 * match the topic's, so a client allowed to publish under one id cannot speak for another.
 */
export function decodeVenueMessage(topicType: VenueMessageType, topicGatewayId: string, payload: Uint8Array): DecodeResult {
  const limit = topicType === 'state' ? MAX_STATE_BYTES : MAX_MOVE_BYTES;
  if (payload.length > limit) return fail('oversize');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch {
    return fail('not_json');
  }
  if (!isRecord(raw)) return fail('not_object');
  if (raw.v !== PROTOCOL_VERSION) return fail('version');
  if (raw.t !== topicType) return fail('type_mismatch');
  if (!isId(raw.g)) return fail('gateway_id');
  if (raw.g !== topicGatewayId) return fail('topic_mismatch');
  if (!isTime(raw.at)) return fail('sent_at');
  const gatewayId = raw.g;
  const sentAt = raw.at;
  switch (topicType) {
    case 'move': {
      if (!isSeq(raw.s)) return fail('seq');
      if (raw.h !== undefined && !isRef(raw.h)) return fail('holder_ref');
      if (!isId(raw.z)) return fail('zone');
      if (!isDir(raw.d)) return fail('direction');
      if (!isTime(raw.a)) return fail('at');
      const movement: VenueMovement = { gatewayId, seq: raw.s, zoneId: raw.z, direction: raw.d === 'i' ? 'in' : 'out', at: raw.a };
      if (raw.h !== undefined) movement.holderRef = raw.h;
      return { ok: true, message: { type: 'move', movement, sentAt } };
    }
    case 'state': {
      if (!(raw.s === 0 || isSeq(raw.s))) return fail('seq');
      if (!isRecord(raw.c)) return fail('counters');
      if (!Array.isArray(raw.r)) return fail('recent');
      const seq = raw.s;
      const counters: Record<string, ZoneCounter> = {};
      let counted = 0;
      for (const [zone, v] of Object.entries(raw.c)) {
        if (!isId(zone) || !Array.isArray(v) || v.length !== 2 || !isTime(v[0]) || !isTime(v[1])) return fail('counters');
        counters[zone] = { in: v[0], out: v[1] };
        counted += v[0] + v[1];
      }
      // Every movement 1..seq moved exactly one counter by one: anything else is not a gateway's state.
      if (counted !== seq) return fail('counters_sum');
      const recent: VenueMovement[] = [];
      for (const r of raw.r as unknown[]) {
        if (!Array.isArray(r) || r.length !== 5) return fail('recent');
        const [s, h, z, d, a] = r as [unknown, unknown, unknown, unknown, unknown];
        // A snapshot's movements are all covered by its counters: none may be newer than the snapshot.
        if (!isSeq(s) || s > seq || !(h === null || isRef(h)) || !isId(z) || !isDir(d) || !isTime(a)) return fail('recent');
        const m: VenueMovement = { gatewayId, seq: s, zoneId: z, direction: d === 'i' ? 'in' : 'out', at: a };
        if (h !== null) m.holderRef = h;
        recent.push(m);
      }
      return { ok: true, message: { type: 'state', snapshot: { gatewayId, seq, counters, recent }, sentAt } };
    }
    case 'sync': {
      if (typeof raw.n !== 'string' || raw.n.length === 0 || raw.n.length > 64) return fail('nonce');
      return { ok: true, message: { type: 'sync', gatewayId, nonce: raw.n, sentAt } };
    }
  }
}

import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * CloudEvents 1.0, JSON format (DESIGN.md contract 1). `id` is a ULID made
 * once when the event is born and kept across every retry, so the central
 * side can dedupe by it.
 */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  /** `gatehouse://<gateway>/<device>` (or `/<component>` for gateway-level events). */
  source: string;
  /** Reverse-DNS type, e.g. `io.gatehouse.access.granted`. */
  type: string;
  /** Pseudonymous holder id, when the event is about a holder. */
  subject?: string;
  /** RFC 3339. */
  time: string;
  datacontenttype: 'application/json';
  data: T;
  /** Extension: false when the event was made while the wall clock was not synchronised. */
  gatehouseclocksynced?: boolean;
  /** Extension: gateway sequence of the event, strictly increasing per gateway. */
  gatehouseseq?: number;
}

/**
 * Shedding order when the outbox is over budget: lower number = shed first
 * (DESIGN.md "Reliability promises": telemetry and presence before access and alarms).
 */
export const EVENT_PRIORITY = {
  telemetry: 0,
  presence: 1,
  engagement: 2,
  access: 3,
  alarm: 4,
} as const;
export type EventPriority = keyof typeof EVENT_PRIORITY;

export interface NewEvent<T> {
  type: string;
  /** Device or component id inside this gateway. */
  origin: string;
  subject?: string;
  data: T;
  /** Wall-clock ms; defaults to now. */
  at?: number;
  clockSynced?: boolean;
}

export type EventFactory = <T>(e: NewEvent<T>) => CloudEvent<T>;

/**
 * ulid's own PRNG makes one crypto call per character, sixteen per id: 3.5 % of
 * the gateway's CPU in the stadium surge. This one hands out the same kind of
 * bytes (uniform, from the CSPRNG) from a pool refilled one page at a time.
 */
export function pooledRandom(poolBytes = 4096): () => number {
  const pool = Buffer.alloc(poolBytes);
  let next = poolBytes;
  return () => {
    if (next >= poolBytes) {
      randomFillSync(pool);
      next = 0;
    }
    // Like ulid's default: a byte / 256, and 256 is a multiple of its 32 symbols, so every symbol is equally likely.
    return pool[next++]! / 256;
  };
}

/** One monotonic ULID source (sortable, unique per process) on the pooled PRNG. */
export function ulidFactory(): (at?: number) => string {
  return monotonicFactory(pooledRandom());
}

/** Builds events for one gateway; ids are monotonic ULIDs (sortable, unique per process). */
export function eventFactory(gatewayId: string, now: () => number = Date.now): EventFactory {
  const nextId = ulidFactory();
  return <T>(e: NewEvent<T>): CloudEvent<T> => {
    const at = e.at ?? now();
    const event: CloudEvent<T> = {
      specversion: '1.0',
      id: nextId(at),
      source: `gatehouse://${gatewayId}/${e.origin}`,
      type: e.type,
      time: new Date(at).toISOString(),
      datacontenttype: 'application/json',
      data: e.data,
    };
    if (e.subject !== undefined) event.subject = e.subject;
    if (e.clockSynced === false) event.gatehouseclocksynced = false;
    return event;
  };
}

/**
 * Where the core hands events for delivery. `append` resolves once the event
 * is durable on disk; callers on the decision path never await it.
 */
export interface EventSink {
  append(event: CloudEvent, priority: EventPriority): Promise<void>;
}

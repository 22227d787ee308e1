import type { CredentialKind } from '../core/types.js';

/**
 * One holder's entitlement as the central side publishes it (snapshot lines
 * and change-feed upserts; docs/sync.md). Credential values arrive in clear
 * over TLS and are HMAC-hashed with the gateway's key before they are stored.
 */
export interface EntitlementRecord {
  /** Pseudonymous holder id: the only holder identifier that leaves the gateway. */
  holder: string;
  tier?: string;
  /** Consent flags; absent means no consent (events are pseudonymised, nothing personalised). */
  consent?: { personalisation?: boolean; marketing?: boolean };
  /** For greetings on a reader display; only used when consent.personalisation is true. */
  displayName?: string;
  credentials: Array<{ kind: CredentialKind; value: string }>;
  /** RFC 3339; absent = no bound. */
  validFrom?: string;
  validUntil?: string;
  /** Zones and/or lanes this holder may use; both absent = every zone. */
  zones?: string[];
  lanes?: string[];
  /** Weekly schedule in the gateway's time zone; absent = any time. Days 0 = Sunday … 6 = Saturday. */
  schedule?: {
    weekly: Array<{ days: number[]; from: string; to: string }>;
    /** Dates (YYYY-MM-DD) on which the schedule grants nothing. */
    holidays?: string[];
  };
  /** Entry limits: `total: 1` is a one-entry-per-event ticket. */
  limits?: { perDay?: number; total?: number };
  /** The event a ticket is for (no-show detection when its window closes). */
  event?: { id: string; start: string; end: string };
  blocked?: { reason: string };
  vip?: boolean;
}

/** One entry of the change feed after a cursor. */
export type EntitlementChange =
  | { op: 'upsert'; record: EntitlementRecord }
  | { op: 'delete'; holder: string }
  | { op: 'block'; holder: string; reason: string }
  | { op: 'consent'; holder: string; consent: { personalisation?: boolean; marketing?: boolean } };

/** A verified snapshot body on disk: its records start at byte `fromByte`, on line `firstLine`. */
export interface StagedSnapshot {
  path: string;
  fromByte: number;
  firstLine: number;
}

/**
 * What the downlink needs from the entitlement store. A snapshot is loaded
 * into a new table/file and swapped in atomically: decisions keep running
 * against the old store while it loads.
 */
export interface EntitlementSink {
  applySnapshot(records: AsyncIterable<EntitlementRecord>, meta: { version: string; issuedAt: string }): Promise<{ holders: number; credentials: number }>;
  /**
   * Loads a staged NDJSON snapshot whose records start at byte `fromByte`
   * (line `firstLine`), without parsing them on the event loop. Optional:
   * a sink without it gets the records through applySnapshot.
   */
  applySnapshotFile?(file: StagedSnapshot, meta: { version: string; issuedAt: string }, onProgress?: (records: number) => void): Promise<{ holders: number; credentials: number }>;
  applyChanges(changes: EntitlementChange[], cursor: string): void;
  /** The change-feed cursor stored with the last applied snapshot/changes, if any. */
  cursor(): string | undefined;
}

/**
 * The vocabulary shared by drivers, the core and sync. Kept free of any
 * hardware or network type so every layer can depend on it.
 */

/** What a reader hands us. `value` is normalised by the driver (see docs/credentials.md). */
export type CredentialKind = 'card' | 'pin' | 'barcode' | 'mobile';

export interface Credential {
  kind: CredentialKind;
  /**
   * Canonical text of the credential. Cards: decimal card number, prefixed by
   * the facility code and a colon when the format has one (`123:45678`);
   * raw/unknown formats: `raw:<bitcount>:<hex>`. Barcodes/mobile ids: the payload as read.
   */
  value: string;
  /** Card format name when known (e.g. `H10301`), for logs and diagnostics only. */
  format?: string;
}

/** A credential presented at a reader. */
export interface CredentialRead {
  /** Device id from config (a bus, a GPIO reader, an MQTT scanner...). */
  deviceId: string;
  /** Reader on that device when the device is a bus (OSDP address), else undefined. */
  reader?: string;
  credential: Credential;
  /** Wall-clock ms when read. */
  at: number;
  /** Monotonic ms when the read arrived, for latency figures. */
  monoAt: number;
}

export type Direction = 'in' | 'out';
export type DecisionResult = 'granted' | 'denied';

export interface DecisionFlags {
  /** Decided without the central side being reachable (always true today: decisions are local). */
  offline?: boolean;
  /** Anti-passback was violated but the lane let the holder through (soft mode). */
  apbViolation?: boolean;
  /** Entitlement cache older than the lane's maximum age. */
  cacheStale?: boolean;
  /** Decided by the lane's fail mode, not by an entitlement. */
  failMode?: boolean;
  /** First granted entry of this holder today (engagement). */
  firstEntryOfDay?: boolean;
  /** The wall clock was not synchronised when deciding. */
  clockUnsynced?: boolean;
  /** Shared (multi-gateway) anti-passback could not be verified. */
  apbUnverified?: boolean;
}

export interface Decision {
  result: DecisionResult;
  /** Stable reason code, see gateway/access/reasons.ts and docs/access.md. */
  reason: string;
  /** Pseudonymous holder id, when the credential matched a holder. */
  holderRef?: string;
  laneId: string;
  zoneId: string;
  direction: Direction;
  flags: DecisionFlags;
  /** Wall-clock ms of the decision. */
  at: number;
  /** Short text for a reader display, e.g. "Welcome" or "See staff". */
  display?: string;
}

export type DeviceState = 'starting' | 'online' | 'offline' | 'unavailable' | 'failed' | 'stopped';

export interface DeviceStatus {
  deviceId: string;
  /** Sub-reader on a bus (OSDP address), when the status is about one reader. */
  reader?: string;
  state: DeviceState;
  /** Why, when not online: names the fix where one is known. */
  reason?: string;
  at: number;
}

export type AlarmKind =
  | 'door_forced'
  | 'door_held'
  | 'reader_tamper'
  | 'reader_offline'
  | 'storage_low'
  | 'outbox_full'
  | 'clock_unsynced'
  | 'cache_corrupt'
  | 'snapshot_rejected'
  | 'driver_failed'
  | 'link_down'
  | 'apb_conflict';

export interface Alarm {
  kind: AlarmKind;
  /** Device or component that raised it. */
  source: string;
  /** Stable error code (GH_...) when the alarm comes from an error. */
  code?: string;
  message: string;
  at: number;
  /** False when the condition has cleared. */
  active: boolean;
  details?: Record<string, unknown>;
}

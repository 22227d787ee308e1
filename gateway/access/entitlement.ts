import { GatehouseError } from '../errors.js';
import type { EntitlementRecord } from './model.js';
import type { LocalTime } from './localtime.js';

/** One weekly window: a bit per weekday (bit 0 = Sunday), minutes from local midnight. `to <= from` crosses midnight. */
export interface CompiledWindow {
  days: number;
  from: number;
  to: number;
}

/** An entitlement in the shape the decision path checks: numbers and sets, no parsing left. */
export interface CompiledEntitlement {
  holder: string;
  validFrom: number;
  validUntil: number;
  zones?: ReadonlySet<string>;
  lanes?: ReadonlySet<string>;
  windows?: CompiledWindow[];
  holidays?: ReadonlySet<string>;
  perDay?: number;
  total?: number;
  blocked?: string;
  greeting?: string;
}

/** The stored form of a record: everything but the credentials, which are stored only as hashes. */
export type StoredEntitlement = Omit<EntitlementRecord, 'credentials'>;

/** What the store keeps of a record: all of it but the credentials (kept as hashes). */
export function storedEntitlement(record: EntitlementRecord): StoredEntitlement {
  const { credentials: _credentials, ...rest } = record;
  return rest;
}

const CREDENTIAL_KINDS = new Set(['card', 'pin', 'barcode', 'mobile']);

/** The fields every record must have: a holder and well-formed credentials. */
export function isEntitlementRecord(r: unknown): r is EntitlementRecord {
  const x = r as EntitlementRecord | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.holder === 'string' &&
    x.holder.length > 0 &&
    x.holder.length <= 256 &&
    Array.isArray(x.credentials) &&
    x.credentials.every((c) => typeof c === 'object' && c !== null && CREDENTIAL_KINDS.has(c.kind) && typeof c.value === 'string' && c.value.length > 0 && c.value.length <= 256)
  );
}

/**
 * One NDJSON line of a snapshot or change feed as a record: the fields the
 * gateway relies on are checked (GH_DOWNLINK_FORMAT otherwise); recordProblem
 * checks the rest.
 */
export function parseEntitlementLine(line: string, lineNo: number): EntitlementRecord {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    throw new GatehouseError('GH_DOWNLINK_FORMAT', `line ${lineNo} is not JSON`);
  }
  if (!isEntitlementRecord(r)) throw new GatehouseError('GH_DOWNLINK_FORMAT', `line ${lineNo} is not an entitlement record (holder and credentials required)`);
  return r;
}

const HHMM = /^([01]\d|2[0-4]):([0-5]\d)$/;

function minutes(text: string): number | undefined {
  const m = HHMM.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]) * 60 + Number(m[2]);
  return value <= 1440 ? value : undefined;
}

function time(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? Number.NaN : ms;
}

/**
 * Why a record from central cannot be stored, or undefined. The downlink has
 * validated the envelope; this guards the fields the rules rely on so a bad
 * record is skipped with a reason instead of granting by accident.
 */
export function recordProblem(record: EntitlementRecord): string | undefined {
  if (typeof record !== 'object' || record === null) return 'not an object';
  if (typeof record.holder !== 'string' || record.holder.length === 0 || record.holder.length > 256) return 'holder missing or too long';
  if (!Array.isArray(record.credentials)) return 'credentials is not a list';
  if (Number.isNaN(time(record.validFrom, 0)) || Number.isNaN(time(record.validUntil, 0))) return 'validFrom/validUntil is not RFC 3339';
  if (record.event !== undefined) {
    const { id, start, end } = record.event;
    if (typeof id !== 'string' || id.length === 0 || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end))) return 'event needs id, start and end (RFC 3339)';
  }
  for (const w of record.schedule?.weekly ?? []) {
    if (!Array.isArray(w.days) || w.days.some((d) => !Number.isInteger(d) || d < 0 || d > 6)) return 'schedule days must be 0-6';
    if (minutes(w.from) === undefined || minutes(w.to) === undefined) return 'schedule times must be HH:MM';
  }
  return undefined;
}

export function compileEntitlement(record: StoredEntitlement): CompiledEntitlement {
  const compiled: CompiledEntitlement = {
    holder: record.holder,
    validFrom: time(record.validFrom, Number.NEGATIVE_INFINITY),
    validUntil: time(record.validUntil, Number.POSITIVE_INFINITY),
  };
  if (record.zones) compiled.zones = new Set(record.zones);
  if (record.lanes) compiled.lanes = new Set(record.lanes);
  if (record.schedule) {
    compiled.windows = record.schedule.weekly.map((w) => ({
      days: w.days.reduce((mask, d) => mask | (1 << d), 0),
      from: minutes(w.from) ?? 0,
      to: minutes(w.to) ?? 0,
    }));
    if (record.schedule.holidays?.length) compiled.holidays = new Set(record.schedule.holidays);
  }
  if (record.limits?.perDay !== undefined) compiled.perDay = record.limits.perDay;
  if (record.limits?.total !== undefined) compiled.total = record.limits.total;
  if (record.blocked) compiled.blocked = record.blocked.reason;
  if (record.consent?.personalisation && record.displayName) compiled.greeting = record.displayName;
  return compiled;
}

/** True when a weekly window covers this local time; a window whose `to` is not after `from` runs past midnight. */
export function inSchedule(windows: CompiledWindow[], t: LocalTime): boolean {
  const today = 1 << t.weekday;
  const yesterday = 1 << ((t.weekday + 6) % 7);
  for (const w of windows) {
    if (w.from < w.to) {
      if (w.days & today && t.minute >= w.from && t.minute < w.to) return true;
    } else {
      if (w.days & today && t.minute >= w.from) return true;
      if (w.days & yesterday && t.minute < w.to) return true;
    }
  }
  return false;
}

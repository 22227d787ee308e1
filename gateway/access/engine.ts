import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import type { LaneConfig, ZoneConfig } from '../../config/sections/access.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Credential, Decision, DecisionFlags, Direction } from '../core/types.js';
import { GatehouseError, type ErrorCode } from '../errors.js';
import { sharedCounter, sharedGauge } from '../health/metrics.js';
import { credentialProblem } from './credential.js';
import { inSchedule, type CompiledEntitlement } from './entitlement.js';
import { localTimeIn, type LocalTime } from './localtime.js';
import type { ReasonCode } from './reasons.js';
import type { EntitlementStore } from './store.js';
import { MovementState, STATE_FILE, type Movement, type MovementUndo } from './state.js';

export interface AccessEngine {
  /** Decides synchronously from memory and the local SQLite cache: no fsync, no network, never throws. */
  decide(laneId: string, credential: Credential): Decision;
  /**
   * The turnstile's report after a decision: `used: false` (no rotation after a
   * grant) takes back that grant's occupancy, anti-passback and entry count.
   * Fail-mode grants have no holder: pass `''` as `holderRef`.
   */
  recordPassage(laneId: string, holderRef: string, used: boolean): void;
  /** Applies a movement decided elsewhere (another gateway of the venue, issue #11). */
  applyMovement(movement: Movement): void;
  occupancy(zoneId: string): number;
  close(): void;
}

/**
 * Anti-passback positions and occupancy shared with the venue's other
 * gateways (issue #11, sync/venue). When given, the engine reads positions and
 * occupancy from it and records every grant in it; its answers never wait on
 * the network.
 */
export interface SharedAccessState {
  /** False while the shared link is down or not yet caught up: decisions carry `apbUnverified`. */
  verified(): boolean;
  /** People inside the zone, counted over every gateway of the venue. */
  occupancy(zoneId: string): number;
  /** The holder's latest movement in the zone at any gateway, by event time. */
  presence(holderRef: string, zoneId: string): { dir: Direction; at: number; lastInAt?: number } | undefined;
  /** Event time before which the venue forgets positions (venue.positionRetentionHours); absent = never. */
  positionsSince?(): number;
  /** A grant made here (or its take-back), to share. */
  record(movement: { holderRef?: string; zoneId: string; direction: Direction; at: number }): unknown;
}

export interface AccessEngineOptions {
  store: EntitlementStore;
  zones: ZoneConfig[];
  lanes: LaneConfig[];
  clock: Clock;
  metrics: Registry;
  log: Logger;
  timezone: string;
  stateDir: string;
  /** Write-behind interval of anti-passback/occupancy state (ms). */
  flushMs?: number;
  /** Venue-wide anti-passback and occupancy (config `venue:`); absent = this gateway decides alone. */
  shared?: SharedAccessState;
}

interface Zone {
  id: string;
  capacity: number | undefined;
  apb: 'none' | 'hard' | 'soft' | 'timed';
  apbMs: number;
  /** hard/soft: positions older than this are forgotten (antiPassback.resetAfterHours); Infinity = never. */
  apbResetMs: number;
}

interface Lane {
  id: string;
  zone: Zone;
  direction: Direction;
  fail: 'open' | 'closed';
  maxAgeMs: number;
  /** What an unverified shared anti-passback means on an entry lane. */
  apbUnverified: 'grant' | 'deny';
}

/** Short texts for a reader display; kept generic so a denial never tells a stranger why a card is blocked. */
const DISPLAY: Record<ReasonCode, string> = {
  granted: 'Welcome',
  unknown_credential: 'Not recognised',
  invalid_credential: 'Read error, try again',
  expired: 'Expired',
  not_yet_valid: 'Not yet valid',
  blocked: 'See staff',
  wrong_zone: 'Not valid here',
  wrong_lane: 'Use another lane',
  outside_schedule: 'Not valid now',
  holiday: 'Not valid today',
  entry_limit: 'Already used',
  anti_passback: 'Already inside',
  occupancy_full: 'Full, please wait',
  fail_open: 'Welcome',
  fail_closed: 'See staff',
  unknown_lane: 'See staff',
};

/** Pending grants per lane waiting for the turnstile's passage report. */
const PENDING_PER_LANE = 16;
/** At most one warning per this interval and code, so hostile input cannot flood the journal. */
const LOG_INTERVAL_MS = 60_000;

type CacheCondition = 'ok' | 'missing' | 'stale';

export function createAccessEngine(opts: AccessEngineOptions): AccessEngine {
  const { store, clock, log, shared } = opts;
  const localTime = localTimeIn(opts.timezone);

  const zones = new Map<string, Zone>();
  for (const z of opts.zones) {
    const apb = z.antiPassback?.mode ?? 'none';
    if (apb === 'timed' && !z.antiPassback?.minutes) throw new GatehouseError('GH_CONFIG_INVALID', `zone ${z.id}: timed anti-passback needs antiPassback.minutes`, { zone: z.id });
    zones.set(z.id, { id: z.id, capacity: z.capacity, apb, apbMs: (z.antiPassback?.minutes ?? 0) * 60_000, apbResetMs: (z.antiPassback?.resetAfterHours ?? Number.POSITIVE_INFINITY) * 3_600_000 });
  }
  const lanes = new Map<string, Lane>();
  for (const l of opts.lanes) {
    const zone = zones.get(l.zone);
    if (!zone) throw new GatehouseError('GH_CONFIG_INVALID', `lane ${l.id}: no zone "${l.zone}"`, { lane: l.id, zone: l.zone });
    const direction = l.direction ?? 'in';
    lanes.set(l.id, { id: l.id, zone, direction, fail: l.fail ?? (direction === 'out' ? 'open' : 'closed'), maxAgeMs: (l.maxCacheAgeHours ?? 72) * 3_600_000, apbUnverified: l.apbUnverified ?? 'grant' });
  }

  const occupancyOf = (zoneId: string): number => (shared ? shared.occupancy(zoneId) : state.occupancy(zoneId));
  const state = new MovementState(join(opts.stateDir, STATE_FILE), (ms) => localTime(ms).date, log, opts.flushMs);
  if (state.movedAside) log.error({ code: 'GH_STORE_CORRUPT', alarm: 'cache_corrupt', movedAside: state.movedAside }, 'access state (anti-passback, occupancy) was corrupt and moved aside; starting from empty state');

  // Counters survive an engine rebuilt by a config reload (shared per registry); the
  // occupancy gauge is re-registered so its collect() reads this engine's state.
  const invalidCredentials = sharedCounter(opts.metrics, { name: 'gatehouse_access_invalid_credentials_total', help: 'Credentials rejected as malformed before lookup (reason invalid_credential).' });
  const apbViolations = sharedCounter(opts.metrics, { name: 'gatehouse_access_apb_violations_total', help: 'Anti-passback violations by zone and mode (soft ones were granted).', labelNames: ['zone', 'mode'] });
  const passagesUndone = sharedCounter(opts.metrics, { name: 'gatehouse_access_grants_unused_total', help: 'Grants taken back because the turnstile reported no passage.', labelNames: ['lane'] });
  const failModeGauge = sharedGauge(opts.metrics, { name: 'gatehouse_access_fail_mode', help: '1 when the entitlement cache is missing, corrupt or stale for the lane, so it decides by fail mode.', labelNames: ['lane'] });
  opts.metrics.removeSingleMetric('gatehouse_access_occupancy');
  new Gauge({
    name: 'gatehouse_access_occupancy',
    help: 'People counted inside each zone (entries minus exits).',
    labelNames: ['zone'],
    registers: [opts.metrics],
    collect() {
      for (const id of zones.keys()) this.set({ zone: id }, occupancyOf(id));
    },
  });

  const lastLogged = new Map<string, number>();
  const warnRateLimited = (code: ErrorCode, fields: Record<string, unknown>, msg: string) => {
    const now = clock.monotonic();
    // Keyed by configured lanes only: unknown lane ids are arbitrary text and must not grow this map.
    const lane = typeof fields.lane === 'string' && lanes.has(fields.lane) ? fields.lane : '';
    const key = `${code}:${lane}`;
    const last = lastLogged.get(key);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
    lastLogged.set(key, now);
    log.warn({ code, ...fields }, msg);
  };

  const laneCondition = new Map<string, CacheCondition>();
  const cacheCondition = (lane: Lane, at: number): CacheCondition => {
    const s = store.status();
    const condition: CacheCondition = !s.loaded ? 'missing' : s.appliedAt === undefined || at - s.appliedAt > lane.maxAgeMs ? 'stale' : 'ok';
    if (laneCondition.get(lane.id) !== condition) {
      laneCondition.set(lane.id, condition);
      failModeGauge.set({ lane: lane.id }, condition === 'ok' ? 0 : 1);
      if (condition === 'ok') log.info({ lane: lane.id }, 'entitlement cache usable again; lane decides by entitlements');
      else {
        const code: ErrorCode = condition === 'missing' ? 'GH_ACCESS_CACHE_MISSING' : 'GH_ACCESS_CACHE_STALE';
        log.error({ code, lane: lane.id, fail: lane.fail, corruptMovedAside: s.corruptMovedAside, appliedAt: s.appliedAt }, `entitlement cache ${condition}; lane fails ${lane.fail}`);
      }
    }
    return condition;
  };

  const pending = new Map<string, Array<{ holderRef: string; undo: MovementUndo }>>();
  const remember = (lane: Lane, holderRef: string, undo: MovementUndo) => {
    let list = pending.get(lane.id);
    if (!list) pending.set(lane.id, (list = []));
    list.push({ holderRef, undo });
    if (list.length > PENDING_PER_LANE) list.shift();
  };

  const decision = (lane: Lane, result: 'granted' | 'denied', reason: ReasonCode, flags: DecisionFlags, at: number, holder?: CompiledEntitlement): Decision => {
    const d: Decision = { result, reason, laneId: lane.id, zoneId: lane.zone.id, direction: lane.direction, flags, at, display: DISPLAY[reason] };
    if (holder) {
      d.holderRef = holder.holder;
      if (result === 'granted' && holder.greeting) d.display = `Welcome, ${holder.greeting}`;
    }
    return d;
  };

  const grant = (lane: Lane, reason: ReasonCode, flags: DecisionFlags, at: number, holder?: CompiledEntitlement): Decision => {
    const movement: Movement = { zoneId: lane.zone.id, direction: lane.direction, at };
    if (holder) movement.holderRef = holder.holder;
    remember(lane, holder?.holder ?? '', state.apply(movement));
    shared?.record(movement);
    return decision(lane, 'granted', reason, flags, at, holder);
  };

  const occupancyFull = (lane: Lane): boolean => lane.direction === 'in' && lane.zone.capacity !== undefined && occupancyOf(lane.zone.id) >= lane.zone.capacity;
  /** True when the lane's zone is shared with other gateways (anti-passback or a cap) and the venue link cannot vouch for it now. */
  const unverified = (lane: Lane): boolean => shared !== undefined && (lane.zone.apb !== 'none' || lane.zone.capacity !== undefined) && !shared.verified();

  /**
   * The venue's position, else this gateway's own (grants the venue no longer
   * carries, e.g. after a restart), unless it is older than the venue keeps
   * positions: every gateway then answers alike for a forgotten holder.
   */
  const sharedPresence = (venue: SharedAccessState, holderRef: string, zoneId: string) => {
    const p = venue.presence(holderRef, zoneId);
    if (p) return p;
    const own = state.presence(holderRef, zoneId);
    return own && (venue.positionsSince === undefined || own.at >= venue.positionsSince()) ? own : undefined;
  };

  /** The anti-passback verdict for this holder on this lane: undefined = no violation. */
  const passback = (lane: Lane, holderRef: string, at: number): 'deny' | 'flag' | undefined => {
    const zone = lane.zone;
    if (zone.apb === 'none') return undefined;
    const p = shared ? sharedPresence(shared, holderRef, zone.id) : state.presence(holderRef, zone.id);
    let violated = false;
    if (zone.apb === 'timed') {
      // A clock that jumped backwards makes the difference negative: not a re-entry we can judge, so no violation.
      const since = p?.lastInAt === undefined ? Number.POSITIVE_INFINITY : at - p.lastInAt;
      violated = lane.direction === 'in' && since >= 0 && since < zone.apbMs;
    } else {
      // A position older than the zone's reset is forgotten (the holder left by a door without a reader).
      violated = p !== undefined && p.dir === lane.direction && at - p.at <= zone.apbResetMs;
    }
    if (!violated) return undefined;
    apbViolations.inc({ zone: zone.id, mode: zone.apb });
    return zone.apb === 'soft' ? 'flag' : 'deny';
  };

  const decideOnLane = (lane: Lane, credential: Credential, at: number, flags: DecisionFlags): Decision => {
    const problem = credentialProblem(credential);
    if (problem) {
      invalidCredentials.inc();
      warnRateLimited('GH_ACCESS_INVALID_CREDENTIAL', { lane: lane.id, problem }, 'credential rejected');
      return decision(lane, 'denied', 'invalid_credential', flags, at);
    }
    if (unverified(lane)) flags.apbUnverified = true;
    const condition = cacheCondition(lane, at);
    if (condition !== 'ok') {
      flags.failMode = true;
      if (condition === 'stale') flags.cacheStale = true;
      if (lane.fail === 'closed') return decision(lane, 'denied', 'fail_closed', flags, at);
      // Fire-code capacity does not depend on the cache: a full zone stays full in fail-open.
      if (occupancyFull(lane)) return decision(lane, 'denied', 'occupancy_full', flags, at);
      return grant(lane, 'fail_open', flags, at);
    }
    const holder = store.lookup(credential);
    if (!holder) return decision(lane, 'denied', 'unknown_credential', flags, at);

    // Egress: nobody is kept inside for an expired ticket, a schedule or a block; only anti-passback applies.
    if (lane.direction === 'in') {
      if (holder.blocked !== undefined) return decision(lane, 'denied', 'blocked', flags, at, holder);
      if (at < holder.validFrom) return decision(lane, 'denied', 'not_yet_valid', flags, at, holder);
      if (at > holder.validUntil) return decision(lane, 'denied', 'expired', flags, at, holder);
      if (holder.zones || holder.lanes) {
        const allowed = holder.zones?.has(lane.zone.id) === true || holder.lanes?.has(lane.id) === true;
        if (!allowed) return decision(lane, 'denied', holder.zones ? 'wrong_zone' : 'wrong_lane', flags, at, holder);
      }
    }
    let local: LocalTime | undefined;
    if (lane.direction === 'in' && holder.windows) {
      local = localTime(at);
      if (holder.holidays?.has(local.date)) return decision(lane, 'denied', 'holiday', flags, at, holder);
      if (!inSchedule(holder.windows, local)) return decision(lane, 'denied', 'outside_schedule', flags, at, holder);
    }
    let firstToday = false;
    if (lane.direction === 'in') {
      local ??= localTime(at);
      const e = state.entries(holder.holder);
      const today = e !== undefined && e.day === local.date ? e.dayCount : 0;
      firstToday = today === 0;
      if (holder.total !== undefined && (e?.total ?? 0) >= holder.total) return decision(lane, 'denied', 'entry_limit', flags, at, holder);
      if (holder.perDay !== undefined && today >= holder.perDay) return decision(lane, 'denied', 'entry_limit', flags, at, holder);
    }
    // Egress is never held back for want of the venue link.
    if (flags.apbUnverified && lane.apbUnverified === 'deny' && lane.direction === 'in') return decision(lane, 'denied', 'anti_passback', flags, at, holder);
    const apb = passback(lane, holder.holder, at);
    if (apb === 'deny') return decision(lane, 'denied', 'anti_passback', flags, at, holder);
    if (apb === 'flag') flags.apbViolation = true;
    if (occupancyFull(lane)) return decision(lane, 'denied', 'occupancy_full', flags, at, holder);
    if (firstToday) flags.firstEntryOfDay = true;
    return grant(lane, 'granted', flags, at, holder);
  };

  let closed = false;
  return {
    decide(laneId, credential) {
      const at = clock.now();
      const flags: DecisionFlags = { offline: true };
      if (!clock.isSynced()) flags.clockUnsynced = true;
      const lane = lanes.get(laneId);
      if (!lane) {
        warnRateLimited('GH_ACCESS_UNKNOWN_LANE', { lane: String(laneId).slice(0, 64) }, 'decision asked for an unknown lane');
        return { result: 'denied', reason: 'unknown_lane', laneId, zoneId: '', direction: 'in', flags, at, display: DISPLAY.unknown_lane };
      }
      try {
        return decideOnLane(lane, credential, at, flags);
      } catch (err) {
        // A cache read failing under us (disk error, file replaced) must not escape to the reader: fall back to fail mode.
        warnRateLimited('GH_INTERNAL', { lane: lane.id, err }, 'decision failed; lane decides by its fail mode');
        flags.failMode = true;
        return lane.fail === 'open' && !occupancyFull(lane) ? grant(lane, 'fail_open', flags, at) : decision(lane, 'denied', lane.fail === 'open' ? 'occupancy_full' : 'fail_closed', flags, at);
      }
    },

    recordPassage(laneId, holderRef, used) {
      const list = pending.get(laneId);
      if (!list) return;
      for (let i = list.length - 1; i >= 0; i--) {
        const entry = list[i];
        if (entry?.holderRef !== holderRef) continue;
        list.splice(i, 1);
        if (!used) {
          state.undo(entry.undo);
          passagesUndone.inc({ lane: laneId });
          // Shared state only grows: the take-back travels as the opposite movement.
          const m = entry.undo.movement;
          shared?.record({ ...(m.holderRef !== undefined ? { holderRef: m.holderRef } : {}), zoneId: m.zoneId, direction: m.direction === 'in' ? 'out' : 'in', at: clock.now() });
        }
        return;
      }
    },

    applyMovement(movement) {
      if (closed) return;
      state.apply(movement);
    },

    occupancy(zoneId) {
      return occupancyOf(zoneId);
    },

    close() {
      if (closed) return;
      closed = true;
      state.close();
    },
  };
}

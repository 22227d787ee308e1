import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../../config/schema.js';
import type { Bus, BusTopics } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ContentPublisher } from '../core/signage.js';
import type { EventFactory, EventPriority, EventSink } from '../events/cloudevent.js';
import { compileRules, type RuleEventName, type RuleFacts } from '../rules/compile.js';
import { RulesEngine } from '../rules/engine.js';
import { EVENT_TYPES } from './event-schemas.js';
import type { HolderDirectory, HolderInfo, TicketDirectory } from './holders.js';
import { counterOn, gaugeOn } from './metrics.js';
import { ProximityTracker, type ProximitySettings, type ZoneTransition } from './proximity.js';
import { VisitHistory } from './visits.js';

export type { HolderDirectory, HolderInfo, TicketDirectory, ClosedTicketEvent } from './holders.js';

export interface EngagementOptions {
  config: GatewayConfig;
  bus: Bus;
  events: EventSink;
  makeEvent: EventFactory;
  publisher: ContentPublisher;
  holders: HolderDirectory;
  tickets?: TicketDirectory;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** The gateway's data directory; visit history lives in `<dataDir>/engagement.db`. */
  dataDir: string;
}

export interface Engagement {
  start(): void;
  stop(): Promise<void>;
  reload(config: GatewayConfig): void;
  /**
   * Runs the time-driven work now (lost people, dwell thresholds, visit
   * timeouts, batched flush, no-show check). `start()` calls it every second;
   * simulators and the benchmark that drive a virtual clock call it themselves.
   */
  tick(): void;
}

/** Component name in event sources (`gatehouse://<gw>/engagement`) for events no single device owns. */
const ORIGIN = 'engagement';
const TICK_MS = 1_000;
/** Visit-history rows per flush transaction: ~2-3 µs each, so one slice holds the event loop about a millisecond. */
const FLUSH_SLICE_ROWS = 500;
/** A wall clock that moves this much more (or less) than the monotonic clock between ticks has jumped. */
const CLOCK_JUMP_MS = 5_000;
/** Sightings stamped further ahead of our monotonic clock than this come from a clock we cannot trust. */
const FUTURE_SLACK_MS = 2_000;
const MAX_PENDING_CONTENT = 10_000;
const NOSHOW_CURSOR = 'noshow_checked_until';

interface Placement {
  zone: string;
  measuredPower?: number;
}

interface Topology {
  beacons: Map<string, Placement>;
  radios: Map<string, string>;
  exponents: Map<string, number>;
  proximity: ProximitySettings;
}

function topology(config: GatewayConfig): Topology {
  const beacons = new Map<string, Placement>();
  for (const b of config.beacons) {
    const placement: Placement = b.measuredPower === undefined ? { zone: b.zone } : { zone: b.zone, measuredPower: b.measuredPower };
    beacons.set(b.id, placement);
    if (b.ibeacon) {
      const hex = b.ibeacon.uuid.replace(/-/g, '').toLowerCase();
      const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      beacons.set(`ibeacon:${uuid}:${b.ibeacon.major}:${b.ibeacon.minor}`, placement);
      // The form phone apps report over MQTT (docs/mqtt.md "sighting").
      beacons.set(`${uuid}:${b.ibeacon.major}:${b.ibeacon.minor}`, placement);
    }
    if (b.eddystone) beacons.set(`eddystone:${b.eddystone.namespace.toLowerCase()}:${b.eddystone.instance.toLowerCase()}`, placement);
  }
  const radios = new Map<string, string>();
  for (const d of config.devices) if (d.driver === 'ble' && d.zone) radios.set(d.id, d.zone);
  return { beacons, radios, exponents: new Map(config.zones.map((z) => [z.id, z.pathLossExponent])), proximity: config.engagement.proximity };
}

interface ActiveVisit {
  zone: string;
  startMono: number;
  startAt: number;
}

/**
 * Engagement: turns decisions, sightings, kiosk interactions and sign acks
 * from the bus into CloudEvents, and feeds them to the content rules.
 * Everything here runs after the reader got its answer (decisions arrive on
 * the bus post-output) and never blocks on I/O: events are appended without
 * awaiting, visit history is flushed in batches on a timer.
 */
export function createEngagement(opts: EngagementOptions): Engagement {
  const { bus, events, makeEvent, publisher, holders, tickets, clock, log, metrics } = opts;
  let config = opts.config;
  let topo = topology(config);
  const sightingsTotal = counterOn(metrics, 'gatehouse_engagement_sightings_total', 'BLE sightings by what became of them.', ['result']);
  const sighting = {
    accepted: sightingsTotal.labels('accepted'),
    impossibleRssi: sightingsTotal.labels('impossible_rssi'),
    clockSkew: sightingsTotal.labels('clock_skew'),
    unknownBeacon: sightingsTotal.labels('unknown_beacon'),
    outOfOrder: sightingsTotal.labels('out_of_order'),
    trackerFull: sightingsTotal.labels('tracker_full'),
    anonymous: sightingsTotal.labels('anonymous'),
  };
  const eventsTotal = counterOn(metrics, 'gatehouse_engagement_events_total', 'Engagement events emitted, by type.', ['type']);
  const ruleOutcomes = counterOn(metrics, 'gatehouse_rules_outcomes_total', 'Rule matches by rule and outcome (sent, undelivered, withheld, or why suppressed).', ['rule', 'result']);
  const errors = counterOn(metrics, 'gatehouse_errors_total', 'Errors by stable code (see docs/errors.md).', ['code']);
  const clockJumps = counterOn(metrics, 'gatehouse_engagement_clock_jumps_total', 'Wall-clock jumps seen (NTP step, manual change); dwell uses the monotonic clock and is unaffected.', []);

  const tracker = new ProximityTracker(topo.proximity, (t) => onTransition(t));
  gaugeOn(metrics, 'gatehouse_engagement_tracks', 'People tracked by the proximity tracker (person x zone).', [], function () {
    this.set(tracker.size);
  });
  gaugeOn(metrics, 'gatehouse_engagement_zone_occupancy', 'People the proximity tracker places in each zone now.', ['zone'], function () {
    const counts = tracker.occupancyByZone();
    for (const z of config.zones) this.set({ zone: z.id }, counts.get(z.id) ?? 0);
  });
  const engine = new RulesEngine(compileRules(config.rules, { timeZone: config.gateway.timezone, quietHours: config.engagement.quietHours }));
  const { history, movedAside } = VisitHistory.open(opts.dataDir, { timeZone: config.gateway.timezone, seasonStart: config.engagement.seasonStart });
  if (movedAside) {
    errors.inc({ code: 'GH_STORE_CORRUPT' });
    log.error({ code: 'GH_STORE_CORRUPT', movedAside }, 'engagement visit history was corrupt and moved aside; streaks start afresh');
  }
  const active = new Map<string, ActiveVisit>();
  const pendingContent = new Map<string, { sign: string; content: string; rule: string; holderRef?: string }>();
  const inflight = new Set<Promise<void>>();
  const unsubscribe: Array<() => void> = [];
  const timers: NodeJS.Timeout[] = [];
  let lastWall = clock.now();
  let lastMono = clock.monotonic();
  let lastFlushMono = lastMono;
  let lastNoShowMono = lastMono;
  let running = false;
  let closed = false;
  const deferred: Array<() => void> = [];
  let deferredRun: NodeJS.Immediate | undefined;
  let flushRun: NodeJS.Immediate | undefined;
  let flushLeft = 0;

  function emit(type: string, subject: string | undefined, data: unknown, priority: EventPriority, origin = ORIGIN): void {
    const event = makeEvent({ type, origin, subject, data, clockSynced: clock.isSynced() });
    eventsTotal.inc({ type });
    const failed = (err: unknown): void => {
      errors.inc({ code: 'GH_OUTBOX_APPEND' });
      log.error({ err, code: 'GH_OUTBOX_APPEND', type }, 'engagement event could not be appended');
    };
    let appended: Promise<void>;
    try {
      appended = events.append(event, priority);
    } catch (err) {
      failed(err);
      return;
    }
    const p = appended.then(() => undefined, failed);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  function consentOf(holderRef: string | undefined): { holder: HolderInfo | undefined; consent: boolean } {
    const holder = holderRef === undefined ? undefined : holders.get(holderRef);
    return { holder, consent: holder?.consent.personalisation === true };
  }

  function runRules(facts: RuleFacts): void {
    try {
      for (const o of engine.evaluate(facts)) {
        if (o.kind === 'send') {
          const delivered = publisher.send(o.sign, o.content);
          ruleOutcomes.inc({ rule: o.rule.id, result: delivered ? 'sent' : 'undelivered' });
          if (!delivered) {
            log.warn({ rule: o.rule.id, sign: o.sign }, 'sign unknown or offline: content not delivered');
            continue;
          }
          if (pendingContent.size >= MAX_PENDING_CONTENT) pendingContent.delete(pendingContent.keys().next().value!);
          const pending: { sign: string; content: string; rule: string; holderRef?: string } = { sign: o.sign, content: o.content.content, rule: o.rule.id };
          if (facts.holderRef !== undefined) pending.holderRef = facts.holderRef;
          pendingContent.set(o.content.contentId, pending);
        } else if (o.kind === 'withheld') {
          ruleOutcomes.inc({ rule: o.rule.id, result: 'withheld' });
          emit(EVENT_TYPES.signageWithheld, facts.holderRef, { signs: o.signs, content: o.content, rule: o.rule.id, reason: o.reason, trigger: facts.event }, 'engagement');
        } else {
          ruleOutcomes.inc({ rule: o.rule.id, result: o.reason });
        }
      }
    } catch (err) {
      errors.inc({ code: 'GH_ENGAGEMENT_RULE' });
      log.error({ err, code: 'GH_ENGAGEMENT_RULE', event: facts.event }, 'content rules could not be evaluated');
    }
  }

  function facts(event: RuleEventName, holderRef: string | undefined, holder: HolderInfo | undefined, extra: Partial<RuleFacts>): RuleFacts {
    const f: RuleFacts = { event, nowMs: clock.now(), monoAt: clock.monotonic(), ...extra };
    if (holderRef !== undefined) {
      f.holderRef = holderRef;
      f.person ??= holderRef;
      f.visitCount ??= history.visitCount(holderRef);
    }
    if (holder) f.holder = holder;
    return f;
  }

  function defer(work: () => void): void {
    deferred.push(work);
    deferredRun ??= setImmediate(runDeferred);
  }

  function runDeferred(): void {
    deferredRun = undefined;
    for (const work of deferred.splice(0)) {
      try {
        work();
      } catch (err) {
        errors.inc({ code: 'GH_INTERNAL' });
        log.error({ err, code: 'GH_INTERNAL' }, 'engagement could not handle a decision');
      }
    }
  }

  // --- BLE presence -------------------------------------------------------

  function onSighting(s: BusTopics['sighting']): void {
    const p = topo.proximity;
    if (!Number.isFinite(s.rssi) || s.rssi < p.rssiMin || s.rssi > p.rssiMax) {
      sighting.impossibleRssi.inc();
      errors.inc({ code: 'GH_BLE_BAD_ADV' });
      return;
    }
    const mono = clock.monotonic();
    if (!Number.isFinite(s.monoAt) || s.monoAt > mono + FUTURE_SLACK_MS || s.monoAt < mono - p.lostAfterMs) {
      sighting.clockSkew.inc();
      return;
    }
    const fixed = topo.beacons.get(s.beacon);
    let zone: string | undefined;
    let txPower = s.txPower;
    let person: string;
    let holderRef = s.holderRef;
    if (fixed) {
      // A phone heard a fixed beacon: the phone's holder is the person. Without a
      // holder ref we cannot tell phones apart (one app device reports for many).
      if (holderRef === undefined) {
        sighting.anonymous.inc();
        return;
      }
      zone = fixed.zone;
      txPower ??= fixed.measuredPower;
      person = holderRef;
    } else {
      // Our radio heard a phone or wristband advertising as a beacon.
      zone = topo.radios.get(s.observer);
      holderRef ??= holders.byBeacon?.(s.beacon);
      person = holderRef ?? `beacon:${s.beacon}`;
    }
    if (zone === undefined) {
      sighting.unknownBeacon.inc();
      return;
    }
    const result = tracker.observe({
      person,
      zone,
      rssi: s.rssi,
      txPower: txPower ?? p.defaultMeasuredPower,
      exponent: topo.exponents.get(zone) ?? 2,
      monoAt: s.monoAt,
      holderRef,
      beacon: s.beacon,
      observer: s.observer,
    });
    if (result === 'accepted') sighting.accepted.inc();
    else if (result === 'out_of_order') sighting.outOfOrder.inc();
    else sighting.trackerFull.inc();
  }

  function onTransition(t: ZoneTransition): void {
    const { holder, consent } = consentOf(t.holderRef);
    const ids = consent ? { beacon: t.beacon, observer: t.observer } : {};
    let ruleEvent: RuleEventName;
    if (t.kind === 'entered') {
      emit(EVENT_TYPES.zoneEntered, t.holderRef, { zone: t.zone, distanceM: round1(t.distanceM), pseudonymised: !consent, ...ids }, 'presence');
      ruleEvent = 'zone.entered';
    } else if (t.kind === 'dwelled') {
      emit(EVENT_TYPES.zoneDwelled, t.holderRef, { zone: t.zone, dwellS: round1(t.dwellMs / 1000), pseudonymised: !consent, ...ids }, 'presence');
      ruleEvent = 'zone.dwelled';
    } else {
      emit(EVENT_TYPES.zoneExited, t.holderRef, { zone: t.zone, dwellS: round1(t.dwellMs / 1000), reason: t.reason, pseudonymised: !consent, ...ids }, 'presence');
      ruleEvent = 'zone.exited';
    }
    if (running) runRules(facts(ruleEvent, t.holderRef, holder, { zone: t.zone, person: t.person, monoAt: t.monoAt }));
  }

  // --- visits -------------------------------------------------------------

  function onDecision(d: BusTopics['decision']): void {
    const { holder } = consentOf(d.holderRef);
    runRules(facts(d.result === 'granted' ? 'access.granted' : 'access.denied', d.holderRef, holder, { zone: d.zoneId, lane: d.laneId }));
    if (d.result !== 'granted' || d.holderRef === undefined) return;
    if (d.direction === 'in') startVisit(d, d.holderRef, holder);
    else endVisit(d.holderRef, 'exit', d);
  }

  function startVisit(d: BusTopics['decision'], holderRef: string, holder: HolderInfo | undefined): void {
    const current = active.get(holderRef);
    const mono = clock.monotonic();
    if (current && mono - current.startMono < config.engagement.visitTimeoutHours * 3600_000) return; // already inside: an inner zone or a re-scan
    if (current) endVisit(holderRef, 'timeout');
    const synced = clock.isSynced();
    const v = history.recordVisit(holderRef, d.at, synced);
    active.set(holderRef, { zone: d.zoneId, startMono: mono, startAt: d.at });
    emit(
      EVENT_TYPES.visitStarted,
      holderRef,
      { zone: d.zoneId, lane: d.laneId, device: d.deviceId, visitCount: v.visitCount, firstEver: v.firstEver, firstOfSeason: v.firstOfSeason, season: v.season, streakDays: v.streakDays, streakWeeks: v.streakWeeks },
      'engagement',
      d.deviceId,
    );
    const base = { zone: d.zoneId, lane: d.laneId, visitCount: v.visitCount };
    runRules(facts('visit.started', holderRef, holder, base));
    if (v.firstEver || v.firstOfSeason) {
      emit(EVENT_TYPES.visitFirst, holderRef, { scope: v.firstEver ? 'ever' : 'season', season: v.season, zone: d.zoneId }, 'engagement', d.deviceId);
      runRules(facts('visit.first', holderRef, holder, base));
    }
    const streaks: Array<['day' | 'week', boolean, number]> = [
      ['day', v.streakDayGrew, v.streakDays],
      ['week', v.streakWeekGrew, v.streakWeeks],
    ];
    for (const [unit, grew, length] of streaks) {
      if (!grew || length < 2) continue;
      emit(EVENT_TYPES.visitStreak, holderRef, { unit, length, zone: d.zoneId }, 'engagement', d.deviceId);
      runRules(facts('visit.streak', holderRef, holder, base));
    }
  }

  function endVisit(holderRef: string, reason: 'exit' | 'timeout', d?: BusTopics['decision']): void {
    const v = active.get(holderRef);
    if (!v) return; // began before a restart, or never seen entering: no honest dwell to report
    active.delete(holderRef);
    const dwellMs = reason === 'timeout' ? config.engagement.visitTimeoutHours * 3600_000 : clock.monotonic() - v.startMono;
    const data: Record<string, unknown> = { zone: v.zone, dwellS: round1(Math.max(0, dwellMs) / 1000), reason, startedAt: new Date(v.startAt).toISOString() };
    if (d) {
      data.lane = d.laneId;
      data.device = d.deviceId;
    }
    emit(EVENT_TYPES.visitEnded, holderRef, data, 'engagement', d?.deviceId ?? ORIGIN);
    const { holder } = consentOf(holderRef);
    runRules(facts('visit.ended', holderRef, holder, d ? { zone: v.zone, lane: d.laneId } : { zone: v.zone }));
  }

  // --- kiosks and signs ---------------------------------------------------

  function onInteraction(i: BusTopics['interaction']): void {
    const { holder, consent } = consentOf(i.holderRef);
    const data: Record<string, unknown> = { device: i.deviceId, item: i.item, action: i.action, pseudonymised: !consent };
    if (consent && i.data) data.data = i.data;
    emit(EVENT_TYPES.kioskInteraction, i.holderRef, data, 'engagement', i.deviceId);
    runRules(facts('kiosk.interaction', i.holderRef, holder, { item: i.item, action: i.action }));
  }

  function onAck(a: BusTopics['signage.ack']): void {
    const pending = pendingContent.get(a.contentId);
    if (!pending) return; // not ours (central-pushed content) or long forgotten
    pendingContent.delete(a.contentId);
    if (a.status !== 'shown') return;
    emit(EVENT_TYPES.signageShown, pending.holderRef, { sign: pending.sign, content: pending.content, contentId: a.contentId, rule: pending.rule }, 'engagement', a.deviceId);
  }

  // --- time ---------------------------------------------------------------

  function tick(): void {
    try {
      tickUnsafe();
    } catch (err) {
      // A timer callback that throws would take the process down: count it and carry on next second.
      errors.inc({ code: 'GH_INTERNAL' });
      log.error({ err, code: 'GH_INTERNAL' }, 'engagement tick failed');
    }
  }

  function tickUnsafe(): void {
    const mono = clock.monotonic();
    const wall = clock.now();
    const drift = wall - lastWall - (mono - lastMono);
    if (Math.abs(drift) > CLOCK_JUMP_MS) {
      clockJumps.inc();
      log.warn({ jumpMs: Math.round(drift) }, 'wall clock jumped; dwell times use the monotonic clock and are unaffected');
    }
    lastWall = wall;
    lastMono = mono;
    tracker.tick(mono);
    const timeoutMs = config.engagement.visitTimeoutHours * 3600_000;
    for (const [holderRef, v] of active) if (mono - v.startMono >= timeoutMs) endVisit(holderRef, 'timeout');
    if (mono - lastFlushMono >= config.engagement.flushIntervalMs) {
      lastFlushMono = mono;
      flush();
      engine.sweep(mono);
    }
    if (tickets && mono - lastNoShowMono >= config.engagement.noShowCheckMs) {
      lastNoShowMono = mono;
      checkNoShows(tickets);
    }
  }

  /**
   * Writes the visit history a slice per turn of the event loop (VisitHistory.flush), so decisions
   * interleave. A flush writes what was pending when it started: rows dirtied meanwhile wait for
   * the next one, or a busy gate would keep it going with a tiny transaction every turn.
   */
  function flush(): void {
    if (flushRun) clearImmediate(flushRun);
    flushLeft = history.pendingWrites;
    flushSlice();
  }

  function flushSlice(): void {
    flushRun = undefined;
    try {
      flushLeft -= history.flush(Math.min(FLUSH_SLICE_ROWS, flushLeft));
    } catch (err) {
      errors.inc({ code: 'GH_ENGAGEMENT_STATE' });
      log.error({ err, code: 'GH_ENGAGEMENT_STATE' }, 'visit history could not be written; will retry');
      return;
    }
    if (flushLeft > 0 && history.pendingWrites > 0 && !closed) flushRun = setImmediate(flushSlice);
  }

  function checkNoShows(dir: TicketDirectory): void {
    // An unsynchronised clock could close (or reopen) every event at once.
    if (!clock.isSynced()) return;
    const until = clock.now();
    const after = Number(history.meta(NOSHOW_CURSOR) ?? until);
    if (!(until > after)) return;
    let found = 0;
    for (const ev of dir.eventsEndedBetween(after, until)) {
      const earliest = ev.start - config.engagement.visitTimeoutHours * 3600_000;
      for (const holderRef of ev.holders) {
        const last = history.lastVisitAt(holderRef);
        if ((last !== undefined && last >= earliest) || active.has(holderRef)) continue;
        found++;
        emit(EVENT_TYPES.noShow, holderRef, { ticketEvent: ev.eventId, start: new Date(ev.start).toISOString(), end: new Date(ev.end).toISOString() }, 'engagement');
      }
    }
    history.setMeta(NOSHOW_CURSOR, String(until));
    // Persist the cursor now when no-shows went out, so a restart cannot report them twice.
    if (found > 0) flush();
  }

  return {
    start() {
      if (running || closed) return;
      running = true;
      if (tickets && history.meta(NOSHOW_CURSOR) === undefined && clock.isSynced()) history.setMeta(NOSHOW_CURSOR, String(clock.now()));
      unsubscribe.push(
        bus.on('sighting', onSighting),
        // Decisions are handled on the next turn of the event loop, so a burst of
        // card reads is never held up by visit bookkeeping and rules.
        bus.on('decision', (d) => defer(() => onDecision(d))),
        bus.on('interaction', onInteraction),
        bus.on('signage.ack', onAck),
      );
      const t = setInterval(tick, TICK_MS);
      t.unref?.();
      timers.push(t);
      log.info({ rules: engine.ruleCount, beacons: config.beacons.length }, 'engagement started');
    },
    /** Final: emits exits for everyone inside, flushes and closes the visit history. */
    async stop() {
      if (closed) return;
      closed = true;
      for (const off of unsubscribe.splice(0)) off();
      for (const t of timers.splice(0)) clearInterval(t);
      if (deferredRun) clearImmediate(deferredRun);
      if (flushRun) clearImmediate(flushRun);
      runDeferred();
      if (running) {
        running = false;
        tracker.drain(clock.monotonic());
      }
      await Promise.allSettled([...inflight]);
      try {
        history.close();
      } catch (err) {
        errors.inc({ code: 'GH_ENGAGEMENT_STATE' });
        log.error({ err, code: 'GH_ENGAGEMENT_STATE' }, 'visit history could not be written at stop; recent visits are lost');
      }
    },
    reload(next) {
      config = next;
      topo = topology(next);
      tracker.configure(topo.proximity);
      engine.replace(compileRules(next.rules, { timeZone: next.gateway.timezone, quietHours: next.engagement.quietHours }));
      history.reconfigure({ timeZone: next.gateway.timezone, seasonStart: next.engagement.seasonStart });
      log.info({ rules: engine.ruleCount, beacons: next.beacons.length }, 'engagement reloaded');
    },
    tick,
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Gauge, type Registry } from 'prom-client';
import { readSecret, readSecretText, resolveFromConfig } from '../../config/secrets.js';
import type { VenueConfig } from '../../config/sections/venue.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Logger } from '../../gateway/core/log.js';
import type { Alarm, Direction } from '../../gateway/core/types.js';
import type { EventFactory, EventSink } from '../../gateway/events/cloudevent.js';
import { errorCodeOf, type ErrorCode } from '../../gateway/errors.js';
import { sharedCounter, sharedGauge, sharedHistogram } from '../../gateway/health/metrics.js';
import { VenueState, type VenueConflict, type VenuePresence } from './merge.js';
import { decodeVenueMessage, encodeMove, encodeState, encodeSync, venueTopics, type OriginSnapshot, type VenueMovement, type VenueMessage } from './protocol.js';
import { OwnMovementStore, VENUE_STATE_FILE } from './store.js';

export const VENUE_CONFLICT_EVENT = 'io.gatehouse.venue.conflict';

/** A local grant to share with the venue. */
export interface LocalMovement {
  holderRef?: string;
  zoneId: string;
  direction: Direction;
  at: number;
}

export interface VenueLinkOptions {
  config: VenueConfig;
  gatewayId: string;
  /** Directory of the config file (TLS and secret files are relative to it). */
  baseDir: string;
  dataDir: string;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  events: EventSink;
  makeEvent: EventFactory;
  raiseAlarm: (alarm: Alarm) => void;
  /** Counts an error on the gateway-wide `gatehouse_errors_total`. */
  countError?: (code: ErrorCode) => void;
  /** Anti-passback window per zone; see VenueStateOptions. Defaults to "every zone, no time limit". */
  conflictWindowMs?: (zoneId: string) => number | undefined;
  /** Write-behind interval of this gateway's own movements (ms). */
  flushMs?: number;
  /** Longest a local movement waits before it is merged, written and published (ms); see DRAIN_MS. */
  drainMs?: number;
  /** Called after a peer's live movement was applied (benchmarks measure propagation with it). */
  onApplied?: (movement: VenueMovement) => void;
}

export interface VenueLinkStatus {
  connected: boolean;
  /** Connected and caught up: anti-passback positions include every peer's retained state. */
  verified: boolean;
  seq: number;
  peers: Record<string, { seq: number; lastSeenAt?: number; skewMs?: number }>;
  conflictsReported: number;
}

/** What the access engine asks the venue (gateway/access `SharedAccessState`). */
export interface VenueLink {
  start(): void;
  stop(): Promise<void>;
  /** Numbers a local grant, applies it and publishes it (QoS 1) when the link is up. Never throws, never waits. */
  record(movement: LocalMovement): VenueMovement;
  /** True while connected and caught up; decisions made otherwise carry `apbUnverified`. */
  verified(): boolean;
  occupancy(zoneId: string): number;
  presence(holderRef: string, zoneId: string): Readonly<VenuePresence> | undefined;
  /** Event time before which positions are forgotten (venue.positionRetentionHours). */
  positionsSince(): number;
  status(): VenueLinkStatus;
  /** Resolves once verified (tests, benchmarks). */
  whenVerified(): Promise<void>;
  readonly state: VenueState;
}

const LOG_INTERVAL_MS = 60_000;
/**
 * Local movements are merged, written and published by a drain timer, at most
 * this long after the decision (a few ms against the 100 ms propagation
 * budget). A timer that is already running costs the decision nothing, where
 * a setImmediate per decision cost ~7 µs of the decision itself on a cold
 * cache (scripts/bench/venue.ts, docs/venue.md "Decision path").
 */
const DRAIN_MS = 5;
/** The drain timer stops after this long without a local movement, so an idle gateway sleeps. */
const DRAIN_IDLE_MS = 2_000;

/**
 * The venue link (issue #11, docs/venue.md): an MQTT client to the venue's
 * shared broker that publishes this gateway's movements, applies its peers'
 * into a `VenueState`, keeps a retained snapshot of its own state for peers
 * that restart, and says when anti-passback is verified. The decision path
 * never waits on it.
 */
export function createVenueLink(opts: VenueLinkOptions): VenueLink {
  const { config, gatewayId: self, clock, log } = opts;
  const topics = venueTopics(config.topicPrefix, config.id);
  const peers = new Set(config.peers.filter((p) => p !== self));
  const state = new VenueState({ ...(opts.conflictWindowMs ? { conflictWindowMs: opts.conflictWindowMs } : {}), positionRetentionMs: config.positionRetentionHours * 3_600_000 });
  const store = new OwnMovementStore(join(opts.dataDir, VENUE_STATE_FILE), self, config.recentMovements, log, opts.flushMs);
  if (store.movedAside) log.error({ code: 'GH_STORE_CORRUPT', movedAside: store.movedAside }, 'venue state was corrupt and moved aside; numbering restarts from the broker\'s retained state');

  const registers = opts.metrics;
  const linkUp = sharedGauge(registers, { name: 'gatehouse_venue_link_up', help: '1 while the shared venue broker is connected.' });
  const verifiedGauge = sharedGauge(registers, { name: 'gatehouse_venue_verified', help: '1 while shared anti-passback is verified (connected and caught up).' });
  const messages = sharedCounter(registers, { name: 'gatehouse_venue_messages_total', help: 'Venue messages received, by type and result (applied, duplicate, stale).', labelNames: ['type', 'result'] as const });
  const rejected = sharedCounter(registers, { name: 'gatehouse_venue_rejected_total', help: 'Venue messages ignored (GH_VENUE_MESSAGE), by reason.', labelNames: ['reason'] as const });
  const skewGauge = sharedGauge(registers, { name: 'gatehouse_venue_clock_skew_seconds', help: 'Last measured clock difference to each peer (its clock minus ours).', labelNames: ['peer'] as const });
  const skewReports = sharedCounter(registers, { name: 'gatehouse_venue_clock_skew_total', help: 'Messages from peers whose clock was beyond venue.maxClockSkewMs (GH_VENUE_CLOCK_SKEW).', labelNames: ['peer'] as const });
  const conflictsCounter = sharedCounter(registers, { name: 'gatehouse_venue_conflicts_total', help: 'Anti-passback conflicts between gateways: seen here, and reported here (by the gateway of the second entry).', labelNames: ['role'] as const });
  // Re-registered (like the access occupancy gauge) so collect() reads this link's state.
  registers.removeSingleMetric('gatehouse_venue_positions');
  new Gauge({
    name: 'gatehouse_venue_positions',
    help: 'Anti-passback positions held in memory (holder and zone pairs), bounded by venue.positionRetentionHours.',
    registers: [registers],
    collect() {
      this.set(state.positionCount());
    },
  });
  const propagation = sharedHistogram(registers, {
    name: 'gatehouse_venue_propagation_seconds',
    help: 'From a peer deciding a movement to this gateway applying it (live messages).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  });
  const countError = (code: ErrorCode) => opts.countError?.(code);

  const lastLogged = new Map<string, number>();
  const warnRateLimited = (code: ErrorCode, key: string, fields: Record<string, unknown>, msg: string) => {
    const now = clock.monotonic();
    const k = `${code}:${key}`;
    const last = lastLogged.get(k);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
    lastLogged.set(k, now);
    log.warn({ code, ...fields }, msg);
  };

  // Own state, restored from disk.
  const own = store.load();
  let seq = own.seq;
  const startSeq = seq;
  const recent: VenueMovement[] = own.recent;
  state.applySnapshot({ gatewayId: self, seq: own.seq, counters: own.counters, recent: own.recent });
  state.expire(clock.now());
  let snapshotSeq = -1;
  const sinceStart: VenueMovement[] = [];
  let everCaughtUp = false;

  let client: MqttClient | undefined;
  let connected = false;
  let caughtUp = false;
  let stopped = false;
  let alarmRaised = false;
  let syncNonce = '';
  let conflictsReported = 0;
  let snapshotTimer: NodeJS.Timeout | undefined;
  let syncTimer: NodeJS.Timeout | undefined;
  const peerInfo = new Map<string, { lastSeenAt?: number; skewMs?: number }>();
  let waiters: Array<() => void> = [];

  const setVerified = (v: boolean) => {
    caughtUp = v;
    verifiedGauge.set(v && connected ? 1 : 0);
    if (v && connected) {
      for (const w of waiters.splice(0)) w();
    }
  };

  const raiseLinkAlarm = (active: boolean, reason?: string) => {
    if (active === alarmRaised) return;
    alarmRaised = active;
    if (active) countError('GH_VENUE_LINK');
    opts.raiseAlarm({
      kind: 'link_down',
      source: 'venue',
      code: 'GH_VENUE_LINK',
      message: active ? `shared venue broker ${config.url} unreachable${reason ? `: ${reason}` : ''}; anti-passback is decided from local knowledge and flagged unverified` : `shared venue broker ${config.url} reachable again`,
      at: clock.now(),
      active,
    });
  };

  const publish = (topic: string, payload: string, retain = false) => {
    if (!client || !connected) return;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err && !stopped) warnRateLimited('GH_VENUE_LINK', 'publish', { err: err.message }, 'venue publish failed');
    });
  };

  const publishSnapshot = () => {
    if (!connected || !caughtUp) return;
    drain();
    const snap = state.snapshotOf(self, recent);
    state.applySnapshot(snap);
    snapshotSeq = snap.seq;
    publish(topics.state(self), encodeState(snap, clock.now()), true);
  };

  const reportConflicts = (conflicts: readonly VenueConflict[]) => {
    for (const c of conflicts) {
      conflictsCounter.inc({ role: 'seen' });
      // Reported once in the venue: by the gateway that granted the second entry.
      if (c.second.gatewayId !== self || store.wasReported(c.key)) continue;
      store.markReported(c.key, clock.now());
      conflictsReported++;
      conflictsCounter.inc({ role: 'reported' });
      const data = {
        key: c.key,
        zone: c.zoneId,
        first: { gateway: c.first.gatewayId, seq: c.first.seq, at: new Date(c.first.at).toISOString() },
        second: { gateway: c.second.gatewayId, seq: c.second.seq, at: new Date(c.second.at).toISOString() },
      };
      const event = opts.makeEvent({ type: VENUE_CONFLICT_EVENT, origin: 'venue', subject: c.holderRef, at: c.second.at, clockSynced: clock.isSynced(), data });
      opts.events.append(event, 'alarm').catch((err: unknown) => {
        countError(errorCodeOf(err));
        log.error({ err, code: errorCodeOf(err), eventId: event.id }, 'venue conflict event could not be appended');
      });
      opts.raiseAlarm({
        kind: 'apb_conflict',
        source: 'venue',
        message: `holder entered zone ${c.zoneId} at gateways ${c.first.gatewayId} and ${c.second.gatewayId} without an exit between (decided while the gateways could not see each other)`,
        at: clock.now(),
        active: true,
        details: { holderRef: c.holderRef, ...data },
      });
    }
  };

  const checkSkew = (peer: string, sentAt: number) => {
    const skew = sentAt - clock.now();
    const info = peerInfo.get(peer) ?? {};
    info.skewMs = skew;
    peerInfo.set(peer, info);
    skewGauge.set({ peer }, skew / 1000);
    if (Math.abs(skew) <= config.maxClockSkewMs) return;
    skewReports.inc({ peer });
    countError('GH_VENUE_CLOCK_SKEW');
    warnRateLimited('GH_VENUE_CLOCK_SKEW', peer, { peer, skewMs: Math.round(skew), maxMs: config.maxClockSkewMs }, 'peer gateway clock is skewed beyond venue.maxClockSkewMs; check NTP on both');
  };

  const reject = (reason: string, fields: Record<string, unknown>) => {
    rejected.inc({ reason });
    countError('GH_VENUE_MESSAGE');
    warnRateLimited('GH_VENUE_MESSAGE', reason, { reason, ...fields }, 'venue message ignored');
  };

  /** Our own retained snapshot says we numbered further than our disk remembers (file lost or restored): go on from there. */
  const adoptOwn = (snap: OriginSnapshot) => {
    log.warn({ diskSeq: startSeq, brokerSeq: snap.seq }, 'venue numbering restored from the broker\'s retained state');
    state.applySnapshot(snap);
    let next = snap.seq;
    const renumbered = sinceStart.splice(0).map((m) => ({ ...m, seq: ++next }));
    for (const m of renumbered) state.applyMovement(m);
    seq = next;
    recent.splice(0, recent.length, ...snap.recent, ...renumbered);
    if (recent.length > config.recentMovements) recent.splice(0, recent.length - config.recentMovements);
    store.adopt({ seq, counters: state.countersOf(self), recent });
  };

  const onMessage = (topic: string, payload: Buffer, retained: boolean) => {
    if (stopped) return;
    // Our own queued movements first: numbering, adoption and conflict order depend on them.
    drain();
    const parsed = topics.parse(topic);
    if (!parsed) return reject('topic', { topic: topic.slice(0, 200) });
    const { type, gatewayId } = parsed;
    if (gatewayId !== self && !peers.has(gatewayId)) return reject('unknown_gateway', { gateway: gatewayId.slice(0, 64) });
    const decoded = decodeVenueMessage(type, gatewayId, payload);
    if (!decoded.ok) return reject(decoded.reason, { gateway: gatewayId.slice(0, 64), type });
    const message: VenueMessage = decoded.message;
    if (gatewayId !== self) {
      const info = peerInfo.get(gatewayId) ?? {};
      info.lastSeenAt = clock.now();
      peerInfo.set(gatewayId, info);
      if (!retained) checkSkew(gatewayId, message.sentAt);
    }
    switch (message.type) {
      case 'move': {
        if (gatewayId === self) return; // our own echo (brokers without MQTT 5 no-local)
        const result = state.applyMovement(message.movement);
        messages.inc({ type, result });
        if (result === 'applied') {
          propagation.observe(Math.max(0, clock.now() - message.movement.at) / 1000);
          opts.onApplied?.(message.movement);
        }
        break;
      }
      case 'state': {
        if (gatewayId === self) {
          if (message.snapshot.seq > seq) adoptOwn(message.snapshot);
          messages.inc({ type, result: 'own' });
          return;
        }
        messages.inc({ type, result: state.applySnapshot(message.snapshot) });
        break;
      }
      case 'sync': {
        messages.inc({ type, result: 'applied' });
        // A peer is catching up: refresh our retained state now, so it does not wait for the next interval.
        if (gatewayId !== self) {
          if (seq !== snapshotSeq) publishSnapshot();
          return;
        }
        // Retained snapshots are sent when we subscribe, before this marker comes back: we are caught up.
        if (message.nonce === syncNonce && !caughtUp) {
          if (syncTimer) clearTimeout(syncTimer);
          everCaughtUp = true;
          sinceStart.length = 0;
          setVerified(true);
          log.info({ peers: [...peers].map((p) => ({ peer: p, seq: state.contiguousSeq(p) })) }, 'venue link caught up; shared anti-passback verified');
          snapshotSeq = -1;
          publishSnapshot();
        }
        return;
      }
    }
    reportConflicts(state.takeConflicts());
  };

  const catchUp = () => {
    if (!client || !connected || stopped) return;
    syncNonce = randomBytes(8).toString('hex');
    publish(topics.sync(self), encodeSync(self, syncNonce, clock.now()));
    // A marker lost to a broken connection is sent again.
    if (syncTimer) clearTimeout(syncTimer);
    syncTimer = setTimeout(catchUp, Math.max(2_000, config.keepaliveS * 1000));
    syncTimer.unref();
  };

  const clientOptions = (): IClientOptions => {
    const o: IClientOptions = {
      clientId: config.clientId ?? `gatehouse-venue-${self}`,
      protocolVersion: config.mqttVersion,
      clean: true,
      keepalive: config.keepaliveS,
      reconnectPeriod: config.reconnectMs,
      connectTimeout: Math.max(2_000, config.keepaliveS * 1000),
      queueQoSZero: false,
      resubscribe: false,
    };
    if (config.username !== undefined) o.username = config.username;
    if (config.password) o.password = readSecretText(config.password, opts.baseDir);
    if (config.tls?.ca) o.ca = readSecret({ file: resolveFromConfig(opts.baseDir, config.tls.ca) }, opts.baseDir);
    if (config.tls?.cert) o.cert = readSecret({ file: resolveFromConfig(opts.baseDir, config.tls.cert) }, opts.baseDir);
    if (config.tls?.key) o.key = readSecret({ file: resolveFromConfig(opts.baseDir, config.tls.key) }, opts.baseDir);
    return o;
  };

  /**
   * Local movements not yet merged. The decision path only numbers a movement
   * and queues it: no timer, no callback, no map update per decision. The
   * drain timer merges, writes and publishes the queue every `drainMs` while
   * movements flow, in one batch between decisions. Until then `occupancy` and
   * `presence` look at the queue (a handful of movements at most), so
   * back-to-back decisions see each other.
   */
  const pendingMoves: VenueMovement[] = [];
  const drainMs = opts.drainMs ?? DRAIN_MS;
  let drainTimer: NodeJS.Timeout | undefined;
  let idleTicks = 0;
  const drain = () => {
    if (pendingMoves.length === 0) return;
    const batch = pendingMoves.splice(0);
    const send = connected && caughtUp;
    const now = clock.now();
    for (const movement of batch) {
      state.applyMovement(movement);
      recent.push(movement);
      // Kept only until the first catch-up, in case the broker knows a higher numbering than our disk.
      if (!everCaughtUp) sinceStart.push(movement);
      store.append(movement);
      // While the link is down, movements travel in the next snapshot instead.
      if (send) publish(topics.move(self), encodeMove(movement, now));
    }
    if (recent.length > config.recentMovements * 2) recent.splice(0, recent.length - config.recentMovements);
    reportConflicts(state.takeConflicts());
    // Also here, not only on the snapshot timer: a link that never started (a missing secret) still bounds its positions.
    state.expire(now);
  };
  const drainTick = () => {
    if (pendingMoves.length > 0) {
      idleTicks = 0;
      drain();
    } else if (++idleTicks * drainMs >= DRAIN_IDLE_MS) stopDraining();
  };
  const stopDraining = () => {
    if (drainTimer) clearInterval(drainTimer);
    drainTimer = undefined;
  };

  const record = (m: LocalMovement): VenueMovement => {
    const movement: VenueMovement = { gatewayId: self, seq: ++seq, zoneId: m.zoneId, direction: m.direction, at: m.at };
    if (m.holderRef !== undefined && m.holderRef !== '') movement.holderRef = m.holderRef;
    pendingMoves.push(movement);
    // Only the first movement after an idle spell starts the timer.
    if (drainTimer === undefined && !stopped) {
      idleTicks = 0;
      drainTimer = setInterval(drainTick, drainMs);
      drainTimer.unref();
    }
    return movement;
  };

  // Indexed loops and an early return: these run cold (once per decision, a few ms apart), often below the optimising tier, where for...of pays for an iterator.
  const presence = (holderRef: string, zoneId: string): Readonly<VenuePresence> | undefined => {
    let p = state.presence(holderRef, zoneId);
    if (pendingMoves.length === 0) return p;
    for (let i = 0; i < pendingMoves.length; i++) {
      const m = pendingMoves[i]!;
      if (m.holderRef !== holderRef || m.zoneId !== zoneId || (p !== undefined && m.at < p.at)) continue;
      const lastInAt = m.direction === 'in' ? m.at : p?.lastInAt;
      p = { dir: m.direction, at: m.at, gatewayId: self, ...(lastInAt !== undefined ? { lastInAt } : {}) };
    }
    return p;
  };

  const occupancy = (zoneId: string): number => {
    let n = state.occupancy(zoneId);
    for (let i = 0; i < pendingMoves.length; i++) if (pendingMoves[i]!.zoneId === zoneId) n += pendingMoves[i]!.direction === 'in' ? 1 : -1;
    return Math.max(0, n);
  };

  return {
    get state() {
      drain();
      return state;
    },
    start() {
      if (client || stopped) return;
      let options: IClientOptions;
      try {
        options = clientOptions();
      } catch (err) {
        // A missing secret or TLS file: the gateway keeps deciding alone, loudly.
        log.error({ err, code: errorCodeOf(err) }, 'venue link not started');
        raiseLinkAlarm(true, (err as Error).message);
        return;
      }
      const c = mqtt.connect(config.url, options);
      client = c;
      c.on('connect', () => {
        // Each movement is one small packet: send it now, not after Nagle's delay.
        (c.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
        connected = true;
        linkUp.set(1);
        raiseLinkAlarm(false);
        log.info({ url: config.url }, 'venue link connected; catching up');
        c.subscribe(
          {
            // MQTT 5 no-local: our own moves are not sent back to us (MQTT-3.8.3-3).
            [topics.filters.move]: { qos: 1, nl: true },
            [topics.filters.state]: { qos: 1 },
            [topics.filters.sync]: { qos: 1 },
          },
          (err) => {
            if (err) {
              warnRateLimited('GH_VENUE_LINK', 'subscribe', { err: err.message }, 'venue subscribe failed');
              c.end(true);
              return;
            }
            catchUp();
          },
        );
      });
      c.on('message', (topic, payload, packet) => {
        try {
          onMessage(topic, payload, packet.retain);
        } catch (err) {
          countError('GH_INTERNAL');
          warnRateLimited('GH_INTERNAL', 'message', { err }, 'venue message handling failed');
        }
      });
      const down = (reason: string) => {
        if (connected) log.warn({ code: 'GH_VENUE_LINK', reason }, 'venue link lost; deciding from local knowledge');
        connected = false;
        linkUp.set(0);
        setVerified(false);
        if (syncTimer) clearTimeout(syncTimer);
        if (!stopped) raiseLinkAlarm(true, reason);
      };
      c.on('close', () => down('connection closed'));
      c.on('offline', () => down('offline'));
      c.on('error', (err) => {
        warnRateLimited('GH_VENUE_LINK', 'error', { err: err.message }, 'venue broker error');
        if (!connected && !stopped) raiseLinkAlarm(true, err.message);
      });
      snapshotTimer = setInterval(() => {
        // Positions past venue.positionRetentionHours go (a no-op until the cutoff moves, once per 1/24 of it).
        state.expire(clock.now());
        if (seq !== snapshotSeq) publishSnapshot();
      }, config.snapshotIntervalMs);
      snapshotTimer.unref();
    },
    async stop() {
      if (stopped) return;
      drain();
      stopped = true;
      stopDraining();
      if (snapshotTimer) clearInterval(snapshotTimer);
      if (syncTimer) clearTimeout(syncTimer);
      for (const w of waiters.splice(0)) w();
      waiters = [];
      const c = client;
      // A clean stop leaves an up-to-date retained state for the peers and for our own restart.
      if (c && connected && caughtUp && seq !== snapshotSeq) {
        const snap = state.snapshotOf(self, recent);
        await Promise.race([c.publishAsync(topics.state(self), encodeState(snap, clock.now()), { qos: 1, retain: true }).catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
      }
      client = undefined;
      connected = false;
      linkUp.set(0);
      verifiedGauge.set(0);
      if (c) await c.endAsync(true).catch(() => undefined);
      store.close();
    },
    record,
    verified: () => connected && caughtUp,
    occupancy,
    presence,
    positionsSince: () => state.positionsSince,
    status() {
      drain();
      const p: VenueLinkStatus['peers'] = {};
      for (const peer of peers) p[peer] = { seq: state.contiguousSeq(peer), ...peerInfo.get(peer) };
      return { connected, verified: connected && caughtUp, seq, peers: p, conflictsReported };
    },
    whenVerified() {
      if ((connected && caughtUp) || stopped) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

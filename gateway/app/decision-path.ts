import type { Bus } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/log.js';
import type { Credential, CredentialRead, Decision } from '../core/types.js';
import type { CloudEvent, EventFactory, EventSink } from '../events/cloudevent.js';
import type { CoreMetrics } from '../health/metrics.js';
import { errorCodeOf } from '../errors.js';
import type { LaneRouter, LaneRoute } from './lanes.js';

/** The part of the access engine the decision path needs. */
export interface Decider {
  decide(laneId: string, credential: Credential): Decision;
}

export interface DecisionPathDeps {
  bus: Bus;
  engine: () => Decider;
  lanes: () => LaneRouter;
  drivers: ReadonlyMap<string, Driver>;
  events: EventSink;
  makeEvent: EventFactory;
  metrics: CoreMetrics;
  log: Logger;
  clock: Clock;
}

export const ACCESS_GRANTED = 'io.gatehouse.access.granted';
export const ACCESS_DENIED = 'io.gatehouse.access.denied';

/**
 * credential -> lane -> decision -> reader feedback -> bus -> outbox.
 * Everything up to the feedback is synchronous in memory/SQLite; the event is
 * appended after the reader has its answer and the append is never awaited
 * here (DESIGN.md "Data flow").
 */
export function wireDecisionPath(deps: DecisionPathDeps): () => void {
  const { bus, drivers, metrics, log, clock } = deps;
  const observe = metrics.decisionSeconds;

  const onCredential = (read: CredentialRead) => {
    const route = deps.lanes().route(read.deviceId, read.reader);
    if (!route) {
      metrics.errors.inc({ code: 'GH_ACCESS_UNKNOWN_LANE' });
      log.warn({ code: 'GH_ACCESS_UNKNOWN_LANE', device: read.deviceId, reader: read.reader }, 'read from a reader that no lane uses: denied');
      drivers.get(read.deviceId)?.feedback?.(read.reader, {
        decision: { result: 'denied', reason: 'unknown_lane', laneId: '', zoneId: '', direction: 'in', flags: {}, at: clock.now() },
        pulseMs: 0,
      });
      return;
    }
    const decision = decide(route, read.credential);
    const fb = { decision, pulseMs: decision.result === 'granted' ? route.pulseMs : 0 };
    safeFeedback(route.readerDevice, route.reader, fb);
    if (route.output) safeFeedback(route.output.device, route.output.output, fb);
    const monoOut = clock.monotonic();

    observe.observe((monoOut - read.monoAt) / 1000);
    metrics.decisions.inc({ result: decision.result, reason: decision.reason, lane: decision.laneId });
    bus.emit('decision', { ...decision, deviceId: read.deviceId, ...(read.reader !== undefined ? { reader: read.reader } : {}), monoIn: read.monoAt, monoOut });

    const event = deps.makeEvent({
      type: decision.result === 'granted' ? ACCESS_GRANTED : ACCESS_DENIED,
      origin: read.deviceId,
      ...(decision.holderRef ? { subject: decision.holderRef } : {}),
      at: decision.at,
      clockSynced: !decision.flags.clockUnsynced,
      data: {
        lane: decision.laneId,
        zone: decision.zoneId,
        direction: decision.direction,
        reason: decision.reason,
        flags: decision.flags,
        device: read.deviceId,
        ...(read.reader !== undefined ? { reader: read.reader } : {}),
      },
    });
    appendAccessEvent(event);
  };

  /**
   * The append resolves only once the event is on disk (group commit + fsync,
   * tens of ms). The callbacks keep just the id: the event itself is garbage
   * once the outbox has serialised it, instead of living until the fsync.
   */
  const appendAccessEvent = (event: CloudEvent) => {
    const eventId = event.id;
    deps.events.append(event, 'access').then(
      // Debug only: tooling (the kill -9 fault test, support sessions) learns which events are durable.
      () => log.debug({ eventId }, 'event durable'),
      (err: unknown) => {
        const code = errorCodeOf(err);
        metrics.errors.inc({ code });
        log.error({ code, err, eventId }, 'access event could not be appended to the outbox');
      },
    );
  };

  /** The engine must never throw; if it does, the lane's fail mode decides and the error is counted. */
  const decide = (route: LaneRoute, credential: Credential): Decision => {
    try {
      return deps.engine().decide(route.lane.id, credential);
    } catch (err) {
      const code = errorCodeOf(err);
      metrics.errors.inc({ code });
      log.error({ code, err, lane: route.lane.id }, 'access engine failed; deciding by lane fail mode');
      const open = (route.lane.fail ?? (route.lane.direction === 'out' ? 'open' : 'closed')) === 'open';
      return {
        result: open ? 'granted' : 'denied',
        reason: open ? 'fail_open' : 'fail_closed',
        laneId: route.lane.id,
        zoneId: route.lane.zone,
        direction: route.lane.direction,
        flags: { failMode: true },
        at: clock.now(),
      };
    }
  };

  const safeFeedback = (deviceId: string, reader: string | undefined, fb: { decision: Decision; pulseMs: number }) => {
    try {
      drivers.get(deviceId)?.feedback?.(reader, fb);
    } catch (err) {
      const code = errorCodeOf(err);
      metrics.errors.inc({ code });
      log.error({ code, err, device: deviceId }, 'driver feedback failed');
    }
  };

  return bus.on('credential', onCredential);
}

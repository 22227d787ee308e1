import type { Registry } from 'prom-client';
import type { Bus } from '../bus/bus.js';
import type { Logger } from './log.js';
import type { Clock } from './clock.js';
import type { Decision, DeviceState } from './types.js';
import type { EventFactory, EventSink } from '../events/cloudevent.js';

/**
 * What the composition root hands a driver. Drivers publish what they see on
 * the bus (`credential`, `device.status`, `alarm`, ...) and never call the
 * access engine or the network themselves.
 */
export interface DriverContext<C> {
  /** The device's typed config entry (one element of `devices:`). */
  config: C;
  gatewayId: string;
  bus: Bus;
  /** Child logger bound to `{ device: id }`. */
  log: Logger;
  /** The gateway's metric registry: register `gatehouse_*` metrics here, once, at construction. */
  metrics: Registry;
  clock: Clock;
  /** For drivers that emit events of their own (telemetry, interactions). */
  events: EventSink;
  makeEvent: EventFactory;
  /** Directory of the config file: relative paths in a device's config (key files, sockets) resolve against it. */
  baseDir?: string;
  /** The gateway's data directory, for drivers that keep state (e.g. OSDP keys written in install mode). */
  dataDir?: string;
}

/** Lane feedback a driver can show: result, LED/buzzer pattern choice and relay pulse. */
export interface LaneFeedback {
  decision: Decision;
  /** Relay pulse length in ms when granted (from the lane's output config), 0 for none. */
  pulseMs: number;
}

/**
 * One configured device. `start` must not throw for a missing device: the
 * driver reports `unavailable` / `offline` on the bus and keeps retrying with
 * backoff (DESIGN.md: "a driver that fails is restarted with backoff, never left dead").
 */
export interface Driver {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): DeviceState;
  /**
   * Shows a decision on the reader that asked (LED, buzzer, text, relay).
   * Called synchronously on the decision path: must not block; queue the I/O.
   * `reader` is the sub-reader (OSDP address) or undefined.
   */
  feedback?(reader: string | undefined, feedback: LaneFeedback): void;
}

export type DriverFactory<C> = (ctx: DriverContext<C>) => Driver;

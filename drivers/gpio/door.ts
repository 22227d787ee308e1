import type { Bus } from '../../gateway/bus/bus.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { LaneFeedback } from '../../gateway/core/driver.js';
import type { Logger } from '../../gateway/core/log.js';
import type { AlarmKind } from '../../gateway/core/types.js';
import type { GpioDeviceConfig, InputLineConfig } from './config.js';
import type { ReaderMetrics } from './metrics.js';
import type { Level, LineRequest, PinIO } from './pinio.js';

type InputName = 'door' | 'rex' | 'rotation' | 'tamper';
type OutputName = 'relay' | 'led' | 'buzzer';
const INPUTS: readonly InputName[] = ['door', 'rex', 'rotation', 'tamper'];
const OUTPUTS: readonly OutputName[] = ['relay', 'led', 'buzzer'];

/** The lines a gpio device claims, from its config. */
export function doorLines(config: GpioDeviceConfig): LineRequest[] {
  const out: LineRequest[] = [];
  for (const name of OUTPUTS) {
    const l = config.outputs[name];
    if (l) out.push({ name, direction: 'out', initial: l.activeLow ? 1 : 0, ...(l.gpio !== undefined ? { gpio: l.gpio } : {}) });
  }
  for (const name of INPUTS) {
    const l = config.inputs[name];
    if (l) out.push({ name, direction: 'in', initial: l.activeLow ? 1 : 0, ...(l.gpio !== undefined ? { gpio: l.gpio } : {}) });
  }
  return out;
}

/** A debounced input: a level counts once it has held for `debounceMs`. */
class Debounced {
  private committed: boolean;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly line: InputLineConfig,
    initial: Level,
    private readonly onChange: (active: boolean) => void,
  ) {
    this.committed = this.isActive(initial);
  }

  get active(): boolean {
    return this.committed;
  }

  private isActive(level: Level): boolean {
    return this.line.activeLow ? level === 0 : level === 1;
  }

  edge(level: Level): void {
    const active = this.isActive(level);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.line.debounceMs === 0) return this.commit(active);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.commit(active);
    }, this.line.debounceMs);
  }

  private commit(active: boolean): void {
    if (active === this.committed) return;
    this.committed = active;
    this.onChange(active);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface PendingGrant {
  laneId: string;
  holderRef: string | undefined;
  timer: NodeJS.Timeout;
}

/**
 * Door / turnstile I/O on GPIO lines: relay, LED and buzzer outputs; door
 * contact, request-to-exit, rotation and tamper inputs. Turns them into
 * `passage` events (used / granted_not_used) and `alarm`s (door_forced,
 * door_held, reader_tamper). Durations are timers started from the moment of
 * the event; no wall-clock time is used for them.
 */
export class DoorController {
  private readonly inputs = new Map<InputName, Debounced>();
  private readonly outputTimers = new Map<OutputName, NodeJS.Timeout>();
  private readonly pending: PendingGrant[] = [];
  private readonly activeAlarms = new Set<AlarmKind>();
  private readonly unwatch: Array<() => void> = [];
  private releasedUntil = -Infinity;
  private lastRexAt = -Infinity;
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { config: GpioDeviceConfig; io: PinIO; bus: Bus; clock: Clock; log: Logger; metrics: ReaderMetrics },
  ) {}

  /** Starts watching the (already open) lines; raises alarms for a state found at start (tamper on, door already open). */
  start(): void {
    const { config, io } = this.deps;
    for (const name of INPUTS) {
      const line = config.inputs[name];
      if (!line) continue;
      const input = new Debounced(line, io.read(name), (active) => this.onInput(name, active));
      this.inputs.set(name, input);
      this.unwatch.push(io.watch(name, (level) => input.edge(level)));
    }
    if (this.inputs.get('tamper')?.active) this.raise('reader_tamper', 'reader tamper input is active at start');
    if (this.inputs.get('door')?.active) this.startHeldTimer();
  }

  stop(): void {
    this.unwatch.splice(0).forEach((u) => u());
    for (const i of this.inputs.values()) i.stop();
    this.inputs.clear();
    for (const t of this.outputTimers.values()) clearTimeout(t);
    this.outputTimers.clear();
    for (const g of this.pending.splice(0)) clearTimeout(g.timer);
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
  }

  /** Shows a decision: on a grant pulse the relay and LED and wait for the passage; on a denial sound the buzzer. */
  feedback(fb: LaneFeedback): void {
    const { config, bus, clock, metrics } = this.deps;
    if (fb.decision.result !== 'granted') {
      this.pulse('buzzer', config.denyBuzzMs);
      return;
    }
    if (fb.pulseMs > 0) {
      this.pulse('relay', fb.pulseMs);
      this.pulse('led', fb.pulseMs);
    }
    const grant: PendingGrant = {
      laneId: fb.decision.laneId,
      holderRef: fb.decision.holderRef,
      timer: setTimeout(() => {
        const i = this.pending.indexOf(grant);
        if (i >= 0) this.pending.splice(i, 1);
        metrics.io.inc({ device: config.id, event: 'passage_unused' });
        bus.emit('passage', { laneId: grant.laneId, ...(grant.holderRef ? { holderRef: grant.holderRef } : {}), used: false, at: clock.now() });
      }, config.passageTimeoutS * 1000),
    };
    this.pending.push(grant);
  }

  /** Drives an output on for `ms` (restarting a pulse already running), then off. */
  pulse(name: OutputName, ms: number): void {
    const { config, io, clock, metrics } = this.deps;
    const line = config.outputs[name];
    if (!line || ms <= 0) return;
    io.write(name, line.activeLow ? 0 : 1);
    if (name === 'relay') {
      metrics.io.inc({ device: config.id, event: 'relay_pulse' });
      this.releasedUntil = Math.max(this.releasedUntil, clock.monotonic() + ms);
    }
    const prev = this.outputTimers.get(name);
    if (prev) clearTimeout(prev);
    this.outputTimers.set(
      name,
      setTimeout(() => {
        this.outputTimers.delete(name);
        io.write(name, line.activeLow ? 1 : 0);
      }, ms),
    );
  }

  private onInput(name: InputName, active: boolean): void {
    const { config, clock, log, metrics } = this.deps;
    log.debug({ input: name, active }, 'gpio input');
    switch (name) {
      case 'rex':
        if (!active) return;
        this.lastRexAt = clock.monotonic();
        metrics.io.inc({ device: config.id, event: 'rex' });
        this.pulse('relay', config.rexPulseMs);
        return;
      case 'rotation':
        if (!active) return;
        if (this.consumeGrant()) return;
        if (clock.monotonic() - this.lastRexAt <= config.rexWindowS * 1000) return;
        // A turn nobody was granted: forced. It is over as soon as it happened.
        this.raise('door_forced', 'turnstile rotated without a grant or request-to-exit', { input: 'rotation' });
        this.clear('door_forced');
        return;
      case 'door':
        if (active) return this.doorOpened();
        return this.doorClosed();
      case 'tamper':
        if (active) this.raise('reader_tamper', 'reader tamper input is active');
        else this.clear('reader_tamper');
        return;
    }
  }

  private doorOpened(): void {
    const { config, clock } = this.deps;
    const now = clock.monotonic();
    const hasRotationSensor = config.inputs.rotation !== undefined;
    const granted = this.pending.length > 0 || now < this.releasedUntil;
    const rex = now - this.lastRexAt <= config.rexWindowS * 1000;
    // A door without a rotation sensor: the door opening is the passage.
    if (!hasRotationSensor && this.pending.length > 0) this.consumeGrant();
    if (!granted && !rex) this.raise('door_forced', 'door opened without a grant or request-to-exit', { input: 'door' });
    this.startHeldTimer();
  }

  private doorClosed(): void {
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.clear('door_held');
    this.clear('door_forced');
  }

  private startHeldTimer(): void {
    const { config } = this.deps;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      this.raise('door_held', `door open longer than ${config.doorHeldS} s`, { heldS: config.doorHeldS });
    }, config.doorHeldS * 1000);
  }

  private consumeGrant(): boolean {
    const { config, bus, clock, metrics } = this.deps;
    const grant = this.pending.shift();
    if (!grant) return false;
    clearTimeout(grant.timer);
    metrics.io.inc({ device: config.id, event: 'passage_used' });
    bus.emit('passage', { laneId: grant.laneId, ...(grant.holderRef ? { holderRef: grant.holderRef } : {}), used: true, at: clock.now() });
    return true;
  }

  private raise(kind: AlarmKind, message: string, details?: Record<string, unknown>): void {
    const { config, bus, clock, log, metrics } = this.deps;
    this.activeAlarms.add(kind);
    metrics.io.inc({ device: config.id, event: kind === 'reader_tamper' ? 'tamper' : kind });
    log.warn({ alarm: kind, ...details }, message);
    bus.emit('alarm', { kind, source: config.id, message, at: clock.now(), active: true, ...(details ? { details } : {}) });
  }

  private clear(kind: AlarmKind): void {
    const { config, bus, clock } = this.deps;
    if (!this.activeAlarms.delete(kind)) return;
    bus.emit('alarm', { kind, source: config.id, message: `${kind} cleared`, at: clock.now(), active: false });
  }
}

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readerContext } from '../../test/readers/context.js';
import type { Decision } from '../../gateway/core/types.js';
import { GatehouseError } from '../../gateway/errors.js';
import { gpioDeviceSchema } from './config.js';
import { createGpioDriver } from './driver.js';
import { createMemoryPinIO } from './pinio-memory.js';

const decision = (result: 'granted' | 'denied', holderRef?: string): Decision => ({
  result,
  reason: result === 'granted' ? 'ok' : 'no_entitlement',
  laneId: 'lane-1',
  zoneId: 'z',
  direction: 'in',
  flags: {},
  at: 0,
  ...(holderRef ? { holderRef } : {}),
});

describe('gpio door / turnstile driver', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 7_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = async (extra: Record<string, unknown> = {}) => {
    const config = gpioDeviceSchema.parse({
      id: 'door1',
      driver: 'gpio',
      pins: { kind: 'socket', path: '/unused' },
      outputs: { relay: { activeLow: true }, led: {}, buzzer: {} },
      inputs: { door: { debounceMs: 20 }, rex: {}, rotation: { debounceMs: 10 }, tamper: {} },
      ...extra,
    });
    const t = readerContext(config);
    const io = createMemoryPinIO(t.clock);
    const driver = createGpioDriver(t.ctx, { pinio: io });
    await driver.start();
    /** Presses an active-low input for `ms` (default 100 ms) and lets the debounce settle. */
    const press = (name: string, ms = 100) => {
      io.set(name, 0);
      vi.advanceTimersByTime(ms);
      io.set(name, 1);
      vi.advanceTimersByTime(50);
    };
    return { ...t, io, driver, press, config };
  };

  it('pulses an active-low relay for the lane pulse length on a grant', async () => {
    const t = await setup();
    expect(t.io.read('relay')).toBe(1);
    t.driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 1500 });
    expect(t.io.read('relay')).toBe(0);
    expect(t.io.read('led')).toBe(1);
    vi.advanceTimersByTime(1499);
    expect(t.io.read('relay')).toBe(0);
    vi.advanceTimersByTime(1);
    expect(t.io.read('relay')).toBe(1);
    expect(t.io.writes('relay').map((w) => [w.value, w.monoAt - t.io.writes('relay')[0]!.monoAt])).toEqual([[0, 0], [1, 1500]]);
    await t.driver.stop();
  });

  it('emits passage used when the turnstile rotates after a grant', async () => {
    const t = await setup();
    t.driver.feedback!(undefined, { decision: decision('granted', 'h-1'), pulseMs: 1000 });
    vi.advanceTimersByTime(2000);
    t.press('rotation');
    expect(t.seen('passage')).toMatchObject([{ laneId: 'lane-1', holderRef: 'h-1', used: true }]);
    vi.advanceTimersByTime(20_000);
    expect(t.seen('passage')).toHaveLength(1);
    expect(t.seen('alarm')).toEqual([]);
    await t.driver.stop();
  });

  it('emits passage used=false (granted_not_used) when no rotation follows within passageTimeoutS', async () => {
    const t = await setup({ passageTimeoutS: 5 });
    t.driver.feedback!(undefined, { decision: decision('granted', 'h-2'), pulseMs: 1000 });
    vi.advanceTimersByTime(4999);
    expect(t.seen('passage')).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(t.seen('passage')).toMatchObject([{ laneId: 'lane-1', holderRef: 'h-2', used: false }]);
    t.press('rotation');
    expect(t.seen('alarm')).toMatchObject([{ kind: 'door_forced', active: true }, { kind: 'door_forced', active: false }]);
    await t.driver.stop();
  });

  it('ignores contact bounce shorter than the debounce time', async () => {
    const t = await setup();
    t.driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 1000 });
    for (let i = 0; i < 5; i++) {
      t.io.set('rotation', 0);
      vi.advanceTimersByTime(3);
      t.io.set('rotation', 1);
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(100);
    expect(t.seen('passage')).toEqual([]);
    t.press('rotation');
    expect(t.seen('passage')).toHaveLength(1);
    await t.driver.stop();
  });

  it('sounds the buzzer on a denial and does not release', async () => {
    const t = await setup();
    t.driver.feedback!(undefined, { decision: decision('denied'), pulseMs: 1000 });
    expect(t.io.read('buzzer')).toBe(1);
    expect(t.io.writes('relay')).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(t.io.read('buzzer')).toBe(0);
    await t.driver.stop();
  });

  it('raises door_forced when the door opens without grant or REX, and clears it on close', async () => {
    const t = await setup();
    t.io.set('door', 0);
    vi.advanceTimersByTime(25);
    expect(t.seen('alarm')).toMatchObject([{ kind: 'door_forced', source: 'door1', active: true }]);
    t.io.set('door', 1);
    vi.advanceTimersByTime(25);
    expect(t.seen('alarm')).toMatchObject([{ kind: 'door_forced', active: true }, { kind: 'door_forced', active: false }]);
    await t.driver.stop();
  });

  it('releases on request-to-exit and does not call the following door opening forced', async () => {
    const t = await setup();
    t.press('rex');
    expect(t.io.writes('relay').map((w) => w.value)).toEqual([0]);
    t.io.set('door', 0);
    vi.advanceTimersByTime(25);
    t.io.set('door', 1);
    vi.advanceTimersByTime(25);
    expect(t.seen('alarm')).toEqual([]);
    expect(t.seen('passage')).toEqual([]);
    expect(await t.count('gatehouse_gpio_events_total', { device: 'door1', event: 'rex' })).toBe(1);
    await t.driver.stop();
  });

  it('raises door_held after doorHeldS and clears it when the door closes', async () => {
    const t = await setup({ doorHeldS: 30 });
    t.driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 1000 });
    t.io.set('door', 0);
    vi.advanceTimersByTime(29_999);
    expect(t.seen('alarm')).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(t.seen('alarm')).toMatchObject([{ kind: 'door_held', active: true }]);
    t.io.set('door', 1);
    vi.advanceTimersByTime(25);
    expect(t.seen('alarm')).toMatchObject([{ kind: 'door_held', active: true }, { kind: 'door_held', active: false }]);
    await t.driver.stop();
  });

  it('counts the door opening as the passage on a door without a rotation sensor', async () => {
    const t = await setup({ inputs: { door: {} } });
    t.driver.feedback!(undefined, { decision: decision('granted', 'h-3'), pulseMs: 1000 });
    t.io.set('door', 0);
    vi.advanceTimersByTime(25);
    expect(t.seen('passage')).toMatchObject([{ holderRef: 'h-3', used: true }]);
    expect(t.seen('alarm')).toEqual([]);
    await t.driver.stop();
  });

  it('raises and clears reader_tamper from the tamper input', async () => {
    const t = await setup();
    t.io.set('tamper', 0);
    vi.advanceTimersByTime(25);
    t.io.set('tamper', 1);
    vi.advanceTimersByTime(25);
    expect(t.seen('alarm')).toMatchObject([{ kind: 'reader_tamper', active: true }, { kind: 'reader_tamper', active: false }]);
    await t.driver.stop();
  });

  it('reports unavailable when the lines cannot be opened and feedback does not throw', async () => {
    const config = gpioDeviceSchema.parse({ id: 'door2', driver: 'gpio', pins: { kind: 'socket', path: '/unused' }, outputs: { relay: {} } });
    const t = readerContext(config);
    const io = createMemoryPinIO(t.clock, { failOpen: new GatehouseError('GH_GPIO_UNAVAILABLE', 'no gpio here') });
    const driver = createGpioDriver(t.ctx, { pinio: io });
    await driver.start();
    expect(driver.state()).toBe('unavailable');
    expect(() => driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 1000 })).not.toThrow();
    await driver.stop();
  });

  it('requires gpio numbers for every line when pins are onoff', () => {
    const r = gpioDeviceSchema.safeParse({ id: 'd', driver: 'gpio', outputs: { relay: {} }, inputs: { door: { gpio: 5 } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(['outputs.relay.gpio']);
  });
});

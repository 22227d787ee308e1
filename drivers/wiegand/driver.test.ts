import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readerContext } from '../../test/readers/context.js';
import { createMemoryPinIO } from '../gpio/pinio-memory.js';
import { GatehouseError } from '../../gateway/errors.js';
import type { Decision } from '../../gateway/core/types.js';
import { wiegandDeviceSchema } from './config.js';
import { createWiegandDriver } from './driver.js';
import { cardPulses, keypadPulses, pulseTrain, type Pulse } from './sim.js';
import { encodeCard } from './formats.js';

const decision = (result: 'granted' | 'denied'): Decision => ({ result, reason: 'ok', laneId: 'l1', zoneId: 'z', direction: 'in', flags: {}, at: 0 });

describe('wiegand driver', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 5_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (extra: Record<string, unknown> = {}) => {
    const config = wiegandDeviceSchema.parse({ id: 'rdr1', driver: 'wiegand', pins: { kind: 'socket', path: '/unused' }, led: { activeLow: true }, buzzer: {}, ...extra });
    const t = readerContext(config);
    const io = createMemoryPinIO(t.clock);
    const driver = createWiegandDriver(t.ctx, { pinio: io });
    /** Plays pulses on the fake lines in fake time. */
    const play = (pulses: readonly Pulse[]) => {
      const t0 = t.clock.monotonic();
      for (const p of pulses) {
        const wait = t0 + p.atMs - t.clock.monotonic();
        if (wait > 0) vi.advanceTimersByTime(wait);
        io.pulse(p.line, t0 + p.atMs);
      }
      vi.advanceTimersByTime(config.frameTimeoutMs);
    };
    return { ...t, io, driver, play, config };
  };

  it('publishes a card credential from a realistic pulse train and reports online', async () => {
    const t = setup();
    await t.driver.start();
    expect(t.driver.state()).toBe('online');
    t.play(cardPulses('H10301', { facility: 12, card: 3456 }, { intervalMs: 2, jitterMs: 0.5 }));
    expect(t.seen('credential')).toMatchObject([{ deviceId: 'rdr1', credential: { kind: 'card', value: '12:3456', format: 'H10301' } }]);
    expect(await t.count('gatehouse_reader_frames_total', { device: 'rdr1', result: 'card' })).toBe(1);
    expect(t.seen('device.status').map((s) => s.state)).toEqual(['starting', 'online']);
    await t.driver.stop();
    expect(t.driver.state()).toBe('stopped');
  });

  it('assembles keypad presses into a PIN credential on #', async () => {
    const t = setup();
    await t.driver.start();
    t.play(keypadPulses('1234#', 8, { keyGapMs: 400 }));
    expect(t.seen('credential')).toMatchObject([{ credential: { kind: 'pin', value: '1234' } }]);
    await t.driver.stop();
  });

  it('counts parity failures, unknown lengths and truncated frames, and publishes nothing', async () => {
    const t = setup();
    await t.driver.start();
    const good = encodeCard('H10301', { facility: 1, card: 2 });
    t.play(pulseTrain((good[0] === '1' ? '0' : '1') + good.slice(1)));
    t.play(pulseTrain('1'.repeat(30)));
    t.play(pulseTrain(good.slice(0, 17)));
    expect(t.seen('credential')).toEqual([]);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdr1', code: 'GH_WIEGAND_PARITY' })).toBe(1);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdr1', code: 'GH_WIEGAND_FORMAT' })).toBe(1);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdr1', code: 'GH_WIEGAND_NOISE' })).toBe(1);
    await t.driver.stop();
  });

  it('accepts raw frames only when allowRaw is set', async () => {
    const t = setup({ allowRaw: true });
    await t.driver.start();
    t.play(pulseTrain('1'.repeat(30)));
    expect(t.seen('credential')).toMatchObject([{ credential: { value: 'raw:30:3fffffff' } }]);
    await t.driver.stop();
  });

  it('rejects the frame when a data line is stuck low after it', async () => {
    const t = setup();
    await t.driver.start();
    const train = cardPulses('H10301', { facility: 1, card: 1 });
    const t0 = t.clock.monotonic();
    for (const p of train) t.io.pulse(p.line, t0 + p.atMs);
    t.io.set('d0', 0, t0 + 60);
    vi.advanceTimersByTime(100);
    expect(t.seen('credential')).toEqual([]);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdr1', code: 'GH_WIEGAND_NOISE' })).toBe(1);
    await t.driver.stop();
  });

  it('shows a grant on the LED for the pulse length and a denial on the buzzer', async () => {
    const t = setup();
    await t.driver.start();
    t.driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 3000 });
    expect(t.io.read('led')).toBe(0);
    vi.advanceTimersByTime(3000);
    expect(t.io.read('led')).toBe(1);
    t.driver.feedback!(undefined, { decision: decision('denied'), pulseMs: 0 });
    expect(t.io.read('buzzer')).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(t.io.writes('buzzer').map((w) => w.value)).toEqual([1, 0]);
    await t.driver.stop();
  });

  it('reports unavailable with the reason when GPIO cannot be opened, and retries with backoff', async () => {
    const config = wiegandDeviceSchema.parse({ id: 'rdr2', driver: 'wiegand', pins: { kind: 'socket', path: '/unused' } });
    const t = readerContext(config);
    const io = createMemoryPinIO(t.clock, { failOpen: new GatehouseError('GH_GPIO_UNAVAILABLE', 'GPIO is not accessible') });
    const open = vi.spyOn(io, 'open');
    const driver = createWiegandDriver(t.ctx, { pinio: io });
    await driver.start();
    expect(driver.state()).toBe('unavailable');
    expect(t.seen('device.status').at(-1)).toMatchObject({ state: 'unavailable', reason: 'GPIO is not accessible' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(open).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(open).toHaveBeenCalledTimes(3);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdr2', code: 'GH_GPIO_UNAVAILABLE' })).toBe(3);
    await driver.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(open).toHaveBeenCalledTimes(3);
  });

  it('requires gpio numbers when pins are onoff', () => {
    const r = wiegandDeviceSchema.safeParse({ id: 'x', driver: 'wiegand', d0: { gpio: 17 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['d1', 'gpio']);
    expect(wiegandDeviceSchema.safeParse({ id: 'x', driver: 'wiegand', d0: { gpio: 17 }, d1: { gpio: 18 } }).success).toBe(true);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readerContext } from './context.js';
import type { Driver } from '../../gateway/core/driver.js';
import type { Bus } from '../../gateway/bus/bus.js';
import type { Decision } from '../../gateway/core/types.js';
import { wiegandDeviceSchema } from '../../drivers/wiegand/config.js';
import { createWiegandDriver } from '../../drivers/wiegand/driver.js';
import { gpioDeviceSchema } from '../../drivers/gpio/config.js';
import { createGpioDriver } from '../../drivers/gpio/driver.js';
import { createMemoryPinIO } from '../../drivers/gpio/pinio-memory.js';
import { cardPulses, socketScript } from '../../drivers/wiegand/sim.js';

/**
 * A trivial stand-in for the access engine: card 12:3456 is granted on lane-1
 * (holder h-42), anything else denied; the decision goes back to both devices
 * as the composition root would route it.
 */
function fakeDecisions(bus: Bus, reader: Driver, door: Driver) {
  return bus.on('credential', (read) => {
    const granted = read.credential.value === '12:3456';
    const decision: Decision = { result: granted ? 'granted' : 'denied', reason: granted ? 'ok' : 'unknown_credential', laneId: 'lane-1', zoneId: 'main', direction: 'in', flags: {}, at: Date.now(), ...(granted ? { holderRef: 'h-42' } : {}) };
    const fb = { decision, pulseMs: 800 };
    door.feedback!(undefined, fb);
    reader.feedback!(undefined, fb);
  });
}

describe('simulated Wiegand turnstile lane, end to end', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('card pulses -> credential -> decision -> relay pulse -> rotation -> passage (fake lines, fake timers)', async () => {
    vi.useFakeTimers({ now: 9_000_000 });
    const readerCfg = wiegandDeviceSchema.parse({ id: 'w1', driver: 'wiegand', pins: { kind: 'socket', path: '/unused' }, led: { activeLow: true } });
    const t = readerContext(readerCfg);
    const doorCfg = gpioDeviceSchema.parse({ id: 'ts1', driver: 'gpio', pins: { kind: 'socket', path: '/unused' }, outputs: { relay: {} }, inputs: { rotation: { debounceMs: 15 } }, passageTimeoutS: 8 });
    const readerIo = createMemoryPinIO(t.clock);
    const doorIo = createMemoryPinIO(t.clock);
    const reader = createWiegandDriver(t.ctx, { pinio: readerIo });
    const door = createGpioDriver({ ...t.ctx, config: doorCfg }, { pinio: doorIo });
    await reader.start();
    await door.start();
    fakeDecisions(t.bus, reader, door);

    const play = (format: string, facility: number, card: number) => {
      const t0 = t.clock.monotonic();
      for (const p of cardPulses(format, { facility, card }, { intervalMs: 2, jitterMs: 0.4, random: () => 0.37 })) {
        const wait = t0 + p.atMs - t.clock.monotonic();
        if (wait > 0) vi.advanceTimersByTime(wait);
        readerIo.pulse(p.line, t0 + p.atMs);
      }
      vi.advanceTimersByTime(readerCfg.frameTimeoutMs);
    };

    // A stranger's card: denied, no relay, no passage.
    play('H10301', 12, 999);
    expect(doorIo.writes('relay')).toEqual([]);

    // The holder's card: the relay pulses for the lane's 800 ms, the reader LED goes green.
    play('H10301', 12, 3456);
    expect(t.seen('credential').map((c) => c.credential.value)).toEqual(['12:999', '12:3456']);
    expect(doorIo.read('relay')).toBe(1);
    expect(readerIo.read('led')).toBe(0);
    vi.advanceTimersByTime(800);
    expect(doorIo.writes('relay').map((w) => w.value)).toEqual([1, 0]);
    expect(doorIo.writes('relay')[1]!.monoAt - doorIo.writes('relay')[0]!.monoAt).toBe(800);

    // The holder turns the turnstile 1.2 s later: one passage, used.
    vi.advanceTimersByTime(1200);
    doorIo.set('rotation', 1);
    vi.advanceTimersByTime(150);
    doorIo.set('rotation', 0);
    vi.advanceTimersByTime(50);
    expect(t.seen('passage')).toMatchObject([{ laneId: 'lane-1', holderRef: 'h-42', used: true }]);

    // A second grant that nobody uses ends as granted_not_used after 8 s.
    play('H10301', 12, 3456);
    vi.advanceTimersByTime(8000);
    expect(t.seen('passage')).toMatchObject([{ used: true }, { holderRef: 'h-42', used: false }]);
    expect(t.seen('alarm')).toEqual([]);
    await reader.stop();
    await door.stop();
  });

  it('a simulator drives the lane over the Unix socket edge source (real timers)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-lane-'));
    const readerSock = join(dir, 'reader.sock');
    const doorSock = join(dir, 'door.sock');
    const readerCfg = wiegandDeviceSchema.parse({ id: 'w2', driver: 'wiegand', pins: { kind: 'socket', path: readerSock } });
    const doorCfg = gpioDeviceSchema.parse({ id: 'ts2', driver: 'gpio', pins: { kind: 'socket', path: doorSock }, outputs: { relay: {} }, inputs: { rotation: { debounceMs: 5 } } });
    const t = readerContext(readerCfg);
    const reader = createWiegandDriver(t.ctx);
    const door = createGpioDriver({ ...t.ctx, config: doorCfg });
    const sockets: Array<ReturnType<typeof connect>> = [];
    try {
      await reader.start();
      await door.start();
      expect(reader.state()).toBe('online');
      fakeDecisions(t.bus, reader, door);
      const open = async (path: string) => {
        const s = connect(path);
        sockets.push(s);
        await new Promise<void>((r) => s.once('connect', () => r()));
        s.setEncoding('utf8');
        return s;
      };
      const doorSim = await open(doorSock);
      const fromDoor: string[] = [];
      doorSim.on('data', (d: string) => fromDoor.push(d));
      const readerSim = await open(readerSock);
      readerSim.write(socketScript(cardPulses('C1000-35', { facility: 12, card: 3456 })));
      readerSim.write(socketScript(cardPulses('H10301', { facility: 12, card: 3456 })));
      await expect.poll(() => t.seen('credential').length, { timeout: 10_000 }).toBe(2);
      await expect.poll(() => fromDoor.join(''), { timeout: 10_000 }).toContain('out relay 1');
      expect(t.seen('credential').map((c) => c.credential.value)).toEqual(['12:3456', '12:3456']);
      doorSim.write('in rotation 1\n');
      await new Promise((r) => setTimeout(r, 30));
      doorSim.write('in rotation 0\n');
      await expect.poll(() => t.seen('passage').length, { timeout: 10_000 }).toBe(1);
      expect(t.seen('passage')[0]).toMatchObject({ laneId: 'lane-1', holderRef: 'h-42', used: true });
    } finally {
      sockets.forEach((s) => s.destroy());
      await reader.stop();
      await door.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

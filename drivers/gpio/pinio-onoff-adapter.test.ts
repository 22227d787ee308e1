import { describe, expect, it, vi } from 'vitest';

/**
 * The onoff adapter against a stand-in for the onoff module (no GPIO on CI):
 * pins how lines are claimed, numbered, watched and released.
 */
const gpios = vi.hoisted(() => [] as Array<{ n: number; dir: string; edge?: string; value: 0 | 1; cb?: (err: Error | null, v: 0 | 1) => void; unexported: boolean }>);
vi.mock('onoff', () => {
  class Gpio {
    static accessible = true;
    private readonly rec: (typeof gpios)[number];
    constructor(n: number, dir: string, edge?: string) {
      if (n === 999) throw new Error('EBUSY: line already exported');
      this.rec = { n, dir, ...(edge ? { edge } : {}), value: dir === 'high' ? 1 : 0, unexported: false };
      gpios.push(this.rec);
    }
    readSync() {
      return this.rec.value;
    }
    writeSync(v: 0 | 1) {
      this.rec.value = v;
    }
    watch(cb: (err: Error | null, v: 0 | 1) => void) {
      this.rec.cb = cb;
    }
    unexport() {
      this.rec.unexported = true;
    }
  }
  return { Gpio };
});

const { createOnoffPinIO, checkGpio } = await import('./pinio-onoff.js');

describe('onoff PinIO adapter', () => {
  it('claims lines at chipBase + gpio, reports falling edges as pulses and both-edge lines with their level', async () => {
    gpios.length = 0;
    let now = 10;
    const io = createOnoffPinIO({ chipBase: 512, clock: { monotonic: () => now } });
    await io.open([
      { name: 'd0', gpio: 17, direction: 'in', edge: 'falling', initial: 1 },
      { name: 'door', gpio: 22, direction: 'in', initial: 1 },
      { name: 'relay', gpio: 5, direction: 'out', initial: 1 },
    ]);
    expect(gpios.map((g) => [g.n, g.dir, g.edge])).toEqual([[529, 'in', 'falling'], [534, 'in', 'both'], [517, 'high', undefined]]);
    const seen: Array<[string, number, number]> = [];
    io.watch('d0', (v, at) => seen.push(['d0', v, at]));
    io.watch('door', (v, at) => seen.push(['door', v, at]));
    // The level read after a 50 µs Wiegand pulse is already high again: still a bit.
    gpios[0]!.cb!(null, 1);
    now = 12;
    gpios[1]!.cb!(null, 0);
    gpios[1]!.cb!(new Error('EIO'), 1);
    expect(seen).toEqual([['d0', 0, 10], ['d0', 1, 10], ['door', 0, 12]]);
    io.write('relay', 0);
    expect(io.read('relay')).toBe(0);
    await io.close();
    expect(gpios.every((g) => g.unexported)).toBe(true);
  });

  it('releases lines already claimed when one cannot be, and says why', async () => {
    gpios.length = 0;
    const io = createOnoffPinIO({ chipBase: 0, clock: { monotonic: () => 0 } });
    await expect(io.open([{ name: 'a', gpio: 4, direction: 'in', initial: 1 }, { name: 'b', gpio: 999, direction: 'in', initial: 1 }])).rejects.toMatchObject({ code: 'GH_GPIO_UNAVAILABLE', message: expect.stringContaining('EBUSY') });
    expect(gpios[0]!.unexported).toBe(true);
    await expect(io.open([{ name: 'c', direction: 'in', initial: 1 }])).rejects.toMatchObject({ message: expect.stringContaining('no gpio number') });
  });

  it('doctor check passes where GPIO is accessible', async () => {
    const r = await checkGpio('/nonexistent-sysfs');
    expect(r).toEqual({ ok: true, detail: expect.stringContaining('no Raspberry Pi header chip found') });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkGpio, createOnoffPinIO, findHeaderChipBase } from './pinio-onoff.js';
import { createPinIO } from './pinio.js';

describe('onoff PinIO', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('finds the Raspberry Pi header chip base in sysfs (Pi 5 RP1 at 571)', () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-sysfs-'));
    for (const [chip, label, base] of [['gpiochip512', 'raspberrypi-exp-gpio', '512'], ['gpiochip571', 'pinctrl-rp1', '571']] as const) {
      mkdirSync(join(dir, chip));
      writeFileSync(join(dir, chip, 'label'), label + '\n');
      writeFileSync(join(dir, chip, 'base'), base + '\n');
    }
    expect(findHeaderChipBase(dir)).toBe(571);
    expect(findHeaderChipBase(join(dir, 'nowhere'))).toBeUndefined();
  });

  // This machine (CI, containers) has no /sys/class/gpio; on a Pi, GATEHOUSE_TEST_GPIO=1 skips this.
  it.skipIf(process.env.GATEHOUSE_TEST_GPIO === '1')('reports GH_GPIO_UNAVAILABLE with a reason where GPIO is not accessible', async () => {
    const io = await createPinIO({ kind: 'onoff', chipBase: 'auto' }, { now: Date.now, monotonic: () => performance.now(), isSynced: () => true });
    expect(io.kind).toBe('onoff');
    await expect(io.open([{ name: 'd0', gpio: 17, direction: 'in', initial: 1 }])).rejects.toMatchObject({ code: 'GH_GPIO_UNAVAILABLE', message: expect.stringContaining('not accessible') });
    const check = await checkGpio();
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('not accessible');
    const direct = createOnoffPinIO({ chipBase: 0, clock: { monotonic: () => 0 } });
    expect(() => direct.read('d0')).toThrow(/unknown line/);
    await direct.close();
  });
});

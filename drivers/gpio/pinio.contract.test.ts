import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Level, LineRequest, PinIO } from './pinio.js';
import { createMemoryPinIO } from './pinio-memory.js';
import { createSocketPinIO } from './pinio-socket.js';

/**
 * One contract for every PinIO (STYLE.md: the real adapter and the fakes pass
 * the same suite). Each harness opens the lines and can drive an input the way
 * its outside world would (a wire, a socket client).
 */
interface Harness {
  io: PinIO;
  drive(name: string, level: Level): Promise<void>;
  cleanup(): Promise<void>;
}

const LINES: LineRequest[] = [
  { name: 'door', direction: 'in', initial: 1 },
  { name: 'relay', direction: 'out', initial: 0 },
];

const harnesses: Array<[string, () => Promise<Harness>]> = [
  [
    'memory',
    async () => {
      const io = createMemoryPinIO({ monotonic: () => performance.now() });
      await io.open(LINES);
      return { io, drive: async (name, level) => io.set(name, level), cleanup: () => io.close() };
    },
  ],
  [
    'socket',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gh-contract-'));
      const path = join(dir, 'io.sock');
      const io = createSocketPinIO({ path, clock: { monotonic: () => performance.now() } });
      await io.open(LINES);
      const client: Socket = connect(path);
      await new Promise<void>((r) => client.once('connect', () => r()));
      return {
        io,
        drive: async (name, level) => {
          const before = io.read(name);
          client.write(`in ${name} ${level}\n`);
          if (before !== level) await expect.poll(() => io.read(name), { timeout: 10_000 }).toBe(level);
        },
        cleanup: async () => {
          client.destroy();
          await io.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(harnesses)('PinIO contract: %s', (_name, make) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  it('starts lines at their initial level and reads back what is written to an output', async () => {
    h = await make();
    expect(h.io.read('door')).toBe(1);
    expect(h.io.read('relay')).toBe(0);
    h.io.write('relay', 1);
    expect(h.io.read('relay')).toBe(1);
  });

  it('reports each input level change once, with a monotonic stamp, until unwatched', async () => {
    h = await make();
    const seen: Array<[Level, number]> = [];
    const stop = h.io.watch('door', (v, at) => seen.push([v, at]));
    await h.drive('door', 0);
    await h.drive('door', 0);
    await h.drive('door', 1);
    expect(seen.map(([v]) => v)).toEqual([0, 1]);
    expect(seen[1]![1]).toBeGreaterThanOrEqual(seen[0]![1]);
    stop();
    await h.drive('door', 0);
    expect(seen).toHaveLength(2);
  });

  it('refuses to write an input', async () => {
    h = await make();
    expect(() => h!.io.write('door', 0)).toThrow();
  });
});

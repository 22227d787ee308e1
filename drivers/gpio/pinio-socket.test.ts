import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect, type Socket } from 'node:net';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocketPinIO, parseSocketLine } from './pinio-socket.js';
import type { Level, PinIO } from './pinio.js';

describe('parseSocketLine', () => {
  it('parses pulses, levels, gaps, comments and rejects the rest', () => {
    expect(parseSocketLine('d0')).toEqual({ op: 'pulse', line: 'd0' });
    expect(parseSocketLine('+1.5 d1')).toEqual({ op: 'pulse', line: 'd1', gapMs: 1.5 });
    expect(parseSocketLine('pulse rex')).toEqual({ op: 'pulse', line: 'rex' });
    expect(parseSocketLine('+20 in door 0')).toEqual({ op: 'in', line: 'door', value: 0, gapMs: 20 });
    expect(parseSocketLine('  # comment')).toEqual({ op: 'none' });
    expect(parseSocketLine('')).toEqual({ op: 'none' });
    expect(parseSocketLine('+x d0')).toMatchObject({ op: 'error' });
    expect(parseSocketLine('in door 2')).toMatchObject({ op: 'error' });
    expect(parseSocketLine('d0 extra')).toMatchObject({ op: 'error' });
  });
});

describe('socket PinIO', () => {
  let dir: string;
  let io: PinIO | undefined;
  let client: Socket | undefined;
  afterEach(async () => {
    client?.destroy();
    await io?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers edges sent by a client with their stamped gaps, and echoes output writes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-pinio-'));
    const path = join(dir, 'lane.sock');
    let now = 100;
    io = createSocketPinIO({ path, clock: { monotonic: () => now } });
    await io.open([
      { name: 'd0', direction: 'in', initial: 1 },
      { name: 'd1', direction: 'in', initial: 1 },
      { name: 'door', direction: 'in', initial: 1 },
      { name: 'relay', direction: 'out', initial: 0 },
    ]);
    const edges: Array<[string, Level, number]> = [];
    for (const name of ['d0', 'd1', 'door']) io.watch(name, (v, at) => edges.push([name, v, at]));
    client = connect(path);
    await new Promise<void>((r) => client!.once('connect', () => r()));
    const received: string[] = [];
    client.setEncoding('utf8');
    client.on('data', (d: string) => received.push(d));
    client.write('d1\n+2 d0\n+50 in door 0\nbogus\nin nope 1\n');
    await expect.poll(() => edges.length, { timeout: 10_000 }).toBe(5);
    expect(edges).toEqual([
      ['d1', 0, 100],
      ['d1', 1, 100],
      ['d0', 0, 102],
      ['d0', 1, 102],
      ['door', 0, 152],
    ]);
    expect(io.read('door')).toBe(0);
    now = 500;
    io.write('relay', 1);
    await expect.poll(() => received.join(''), { timeout: 10_000 }).toContain('out relay 1');
    expect(received.join('')).toContain('err unknown command "bogus"');
    expect(received.join('')).toContain('err no input line "nope"');
    expect(() => io!.write('door', 1)).toThrow(/not an output/);
    expect(() => io!.read('nope')).toThrow(/unknown line/);
  });

  it('replaces a stale socket file and fails with GH_GPIO_UNAVAILABLE on an unusable path', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-pinio-'));
    const path = join(dir, 'lane.sock');
    // A crashed run leaves its socket file behind: a bound socket nobody listens on.
    const { spawnSync } = await import('node:child_process');
    const leftover = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(leftover.status).toBe(0);
    expect(lstatSync(path).isSocket()).toBe(true);
    io = createSocketPinIO({ path, clock: { monotonic: () => 0 } });
    await io.open([]);
    // A live listener on the same path is not stolen.
    const second = createSocketPinIO({ path, clock: { monotonic: () => 0 } });
    await expect(second.open([])).rejects.toMatchObject({ code: 'GH_GPIO_UNAVAILABLE', message: expect.stringContaining('in use') });
    const bad = createSocketPinIO({ path: join(dir, 'missing-dir', 'x.sock'), clock: { monotonic: () => 0 } });
    await expect(bad.open([])).rejects.toMatchObject({ code: 'GH_GPIO_UNAVAILABLE' });
  });
});

describe('parseSocketLine on arbitrary input', () => {
  it('never throws and only yields well-formed commands', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => {
      const c = parseSocketLine(text);
      if (c.op === 'pulse' || c.op === 'in') expect(c.line.length).toBeGreaterThan(0);
      if (c.op === 'in') expect([0, 1]).toContain(c.value);
      if ('gapMs' in c && c.gapMs !== undefined) expect(c.gapMs).toBeGreaterThanOrEqual(0);
    }));
  });
});

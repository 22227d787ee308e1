import { describe, expect, it } from 'vitest';
import { spawnOffLoop, type OffLoopChild } from './off-loop-child.js';

/** A child that answers each message with {echo: m}, writes to stderr on 'complain', and exits with 3 on 'quit'. */
const ECHO = `
process.on('message', (m) => {
  if (m === 'complain') process.stderr.write('something is off\\n');
  if (m === 'quit') process.exit(3);
  process.send({ echo: m });
});
process.send('ready');
`;

const exitOf = (c: OffLoopChild) => new Promise<[number | null, string | null]>((resolve) => c.once('exit', (code: number | null, signal: string | null) => resolve([code, signal])));
const nextMessage = (c: OffLoopChild) => new Promise<unknown>((resolve) => c.once('message', resolve));

describe('spawnOffLoop', () => {
  it('relays messages both ways (advanced serialization keeps typed arrays), stderr and the exit code', async () => {
    const child = spawnOffLoop(process.execPath, ['-e', ECHO]);
    const exited = exitOf(child);
    const stderr: string[] = [];
    child.stderr.on('data', (t: string) => stderr.push(t));
    expect(await nextMessage(child)).toBe('ready');
    expect(child.connected).toBe(true);
    const reply = nextMessage(child);
    expect(child.send({ key: new Uint8Array([1, 2, 3]), n: 7 })).toBe(true);
    expect(await reply).toEqual({ echo: { key: new Uint8Array([1, 2, 3]), n: 7 } });
    const complained = nextMessage(child);
    child.send('complain');
    await complained;
    child.send('quit');
    expect(await exited).toEqual([3, null]);
    expect(child.connected).toBe(false);
    expect(child.send('too late')).toBe(false);
    expect(stderr.join('')).toContain('something is off');
  });

  it('keeps messages sent before the child has started', async () => {
    const child = spawnOffLoop(process.execPath, ['-e', ECHO]);
    const seen: unknown[] = [];
    child.on('message', (m: unknown) => seen.push(m));
    child.send('first');
    child.send('quit');
    await exitOf(child);
    expect(seen).toEqual(['ready', { echo: 'first' }]);
  });

  it('kills the child on request', async () => {
    const child = spawnOffLoop(process.execPath, ['-e', ECHO]);
    const exited = exitOf(child);
    await nextMessage(child);
    child.kill('SIGKILL');
    expect(await exited).toEqual([null, 'SIGKILL']);
  });

  it('reports a command that cannot start as an error with its code, then an exit', async () => {
    const child = spawnOffLoop('/nonexistent/gatehouse-no-such-command', []);
    const error = new Promise<Error & { code?: string }>((resolve) => child.once('error', resolve));
    const exited = exitOf(child);
    expect((await error).code).toBe('ENOENT');
    await exited;
    expect(child.connected).toBe(false);
  });
});

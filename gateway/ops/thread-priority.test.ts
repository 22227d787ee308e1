import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE, lowPriorityCommand, lowPriorityUnavailable, raiseEventLoopPriority, setLowPriorityWrapper, setRealtimeTool, startBackgroundWorker } from './thread-priority.js';

const linux = process.platform === 'linux' && existsSync('/proc/thread-self/stat');
/** Field 19 of /proc/<tid>/stat is the nice value (proc(5)); the name in field 2 may hold spaces, so split after it. */
const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

/** Fields 40 and 41 of /proc/<tid>/stat: real-time priority and scheduling policy (proc(5); SCHED_RR is 2). */
const rtOf = (stat: string): { rtPriority: number; policy: number } => {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rtPriority: Number(fields[37]), policy: Number(fields[38]) };
};
const root = process.getuid?.() === 0;

describe.runIf(linux)('thread priority (Linux)', () => {
  afterEach(() => {
    setLowPriorityWrapper(undefined);
    setRealtimeTool(undefined);
  });

  it('starts a worker thread at the background nice value, before it runs any JavaScript, and leaves the event loop alone', async () => {
    const worker = startBackgroundWorker(
      () => new Worker("require('node:worker_threads').parentPort.postMessage(require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8'))", { eval: true }),
    );
    const stat = await new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(niceOf(stat)).toBe(BACKGROUND_NICE);
    expect(niceOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toBe(0);
  });

  it('runs a command at SCHED_IDLE through chrt, or at nice 19 without it', () => {
    const probe = "const s=require('node:fs').readFileSync('/proc/self/sched','utf8');process.stdout.write(JSON.stringify({policy:Number(/^policy\\s*:\\s*(\\d+)/m.exec(s)[1]),nice:require('node:os').getPriority()}))";
    const [command, args] = lowPriorityCommand(process.execPath, ['-e', probe]);
    const out = spawnSync(command, args, { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const seen = JSON.parse(out.stdout) as { policy: number; nice: number };
    // SCHED_IDLE is policy 5 (sched(7)).
    if (command.endsWith('chrt')) expect(seen.policy).toBe(5);
    else expect(seen.nice).toBe(19);
  });

  it('runs commands unwrapped once the wrapper is found not to work', () => {
    setLowPriorityWrapper(['/bin/false']);
    expect(lowPriorityCommand('node', ['x'])).toEqual(['/bin/false', ['node', 'x']]);
    expect(lowPriorityUnavailable()).toBe('/bin/false');
    expect(lowPriorityCommand('node', ['x'])).toEqual(['node', ['x']]);
  });

  // Root (as CI runs) may set SCHED_RR; another user without LimitRTPRIO gets the refusal, which is checked below.
  it.runIf(root)('puts the event loop of another process under SCHED_RR, and what it starts afterwards at normal priority', async () => {
    // The child waits for a line, then reports its own main thread, a worker thread and a process it starts after the change.
    const script = `
      const { readFileSync } = require('node:fs');
      const { execFileSync } = require('node:child_process');
      const { Worker } = require('node:worker_threads');
      process.stdin.once('data', () => {
        const w = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:fs').readFileSync('/proc/thread-self/stat','utf8'))", { eval: true });
        w.once('message', (worker) => {
          const main = readFileSync('/proc/thread-self/stat', 'utf8');
          const child = execFileSync('cat', ['/proc/self/stat'], { encoding: 'utf8' });
          process.stdout.write(JSON.stringify({ main, worker, child }));
          process.exit(0);
        });
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(raiseEventLoopPriority(7, child.pid)).toEqual({ ok: true, priority: 7 });
    child.stdin.write('go\n');
    expect(await exited).toBe(0);
    const seen = JSON.parse(out) as { main: string; worker: string; child: string };
    expect(rtOf(seen.main)).toEqual({ rtPriority: 7, policy: 2 });
    expect(rtOf(seen.worker)).toEqual({ rtPriority: 0, policy: 0 });
    expect(rtOf(seen.child)).toEqual({ rtPriority: 0, policy: 0 });
  });

  it('says why when the real-time priority is refused, missing or out of range, and changes nothing', () => {
    const before = rtOf(readFileSync('/proc/thread-self/stat', 'utf8'));
    setRealtimeTool(['/bin/sh', '-c', 'echo "chrt: failed to set pid 1\'s policy: Operation not permitted" >&2; exit 1', 'chrt']);
    const refused = raiseEventLoopPriority(10);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/refused \(exit 1\): chrt: failed .* Operation not permitted/);
    setRealtimeTool([]);
    expect(raiseEventLoopPriority(10)).toEqual({ ok: false, reason: 'chrt(1) is not installed (util-linux)' });
    setRealtimeTool(undefined);
    expect(raiseEventLoopPriority(100)).toEqual({ ok: false, reason: 'priority 100 is outside 1-99' });
    expect(rtOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toEqual(before);
  });
});

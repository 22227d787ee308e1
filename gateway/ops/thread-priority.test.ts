import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE, lowPriorityCommand, lowPriorityUnavailable, setLowPriorityWrapper, startBackgroundWorker } from './thread-priority.js';

const linux = process.platform === 'linux' && existsSync('/proc/thread-self/stat');
/** Field 19 of /proc/<tid>/stat is the nice value (proc(5)); the name in field 2 may hold spaces, so split after it. */
const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

describe.runIf(linux)('thread priority (Linux)', () => {
  afterEach(() => setLowPriorityWrapper(undefined));

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
});

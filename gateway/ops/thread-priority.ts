import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Worker } from 'node:worker_threads';

/**
 * The event loop decides at the gate; background work (building a snapshot,
 * retiring a cache file, checkpointing the outbox) can wait a few
 * milliseconds. On a 2-core box it otherwise competes with the event loop as
 * an equal: scheduler traces of `bench snapshot` showed the event loop
 * runnable but waiting 10-20 ms for a core.
 *
 * Two tools. A worker thread gets a higher nice value (Linux keeps one per
 * thread: setpriority(2) on a thread id). But V8's garbage-collection helper
 * threads are shared by every isolate of a process and must stay at the
 * event loop's priority, since its own collections wait on them (lowering
 * them made the event loop sleep 23 ms on a helper). So heavy background
 * work goes to a process of its own at the lowest priority, helpers and
 * all (lowPriorityCommand). Raising a nice value or choosing SCHED_IDLE needs
 * no privilege. Elsewhere (macOS, Windows, no /proc) these do nothing.
 * The third tool goes the other way: the event loop itself under SCHED_RR
 * (raiseEventLoopPriority), which needs permission and is asked for by config.
 */
export const BACKGROUND_NICE = 10;

const TASKS = '/proc/self/task';

function threadIds(): number[] {
  try {
    return readdirSync(TASKS).map(Number);
  } catch {
    return [];
  }
}

function lower(tid: number, nice: number): boolean {
  try {
    setPriority(tid, nice);
    return true;
  } catch {
    // The thread ended between listing and renicing, or the OS has no per-thread priority.
    return false;
  }
}

/**
 * Creates a worker thread and lowers it to `nice` before it runs any
 * JavaScript: `new Worker` starts the OS thread synchronously, so the thread
 * ids that appear across the call are the worker's. Lowering it from inside
 * the worker would leave its start-up (a V8 isolate, module loading: tens of
 * milliseconds of CPU) at the event loop's priority.
 */
export function startBackgroundWorker(create: () => Worker, nice = BACKGROUND_NICE): Worker {
  const before = new Set(threadIds());
  const worker = create();
  for (const tid of threadIds()) if (!before.has(tid)) lower(tid, nice);
  return worker;
}

/** chrt(1) from util-linux (every Debian and Raspberry Pi OS), where it is installed. */
function chrtPath(): string | undefined {
  return ['/usr/bin/chrt', '/bin/chrt'].find((p) => existsSync(p));
}

let lowPriorityWrapper: string[] | undefined;
let lastWrapper: string | undefined;

/**
 * `command args` prefixed to run at the lowest CPU priority: SCHED_IDLE via
 * chrt(1) on Linux (util-linux, on every Debian and Raspberry Pi OS), which
 * the scheduler preempts the moment any normal thread wants the CPU; nice 19
 * via nice(1) where chrt is missing; unchanged elsewhere. Every thread of the
 * process, V8's helpers included, inherits the policy from the start.
 * A nice value alone was not enough on a 2-core box: a nice-10 build still
 * held the event loop's core for a full scheduler slice.
 */
export function lowPriorityCommand(command: string, args: string[]): [string, string[]] {
  lowPriorityWrapper ??= (() => {
    if (process.platform !== 'linux') return [];
    const chrt = chrtPath();
    if (chrt) return [chrt, '--idle', '0'];
    const nice = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));
    return nice ? [nice, '-n', '19'] : [];
  })();
  const [wrapper, ...wrapperArgs] = lowPriorityWrapper;
  if (wrapper) lastWrapper = wrapper;
  return wrapper ? [wrapper, [...wrapperArgs, command, ...args]] : [command, args];
}

/**
 * The wrapper could not start a process (a sandbox refusing the policy):
 * later calls run commands unwrapped. Returns the wrapper that failed.
 */
export function lowPriorityUnavailable(): string | undefined {
  lowPriorityWrapper = [];
  return lastWrapper;
}

/** Replaces the wrapper lowPriorityCommand uses (tests: a wrapper that fails, as a sandbox would make chrt fail). */
export function setLowPriorityWrapper(wrapper: string[] | undefined): void {
  lowPriorityWrapper = wrapper;
}

export type RealtimeResult = { ok: true; priority: number } | { ok: false; reason: string };

let realtimeTool: string[] | undefined;

/** Replaces the chrt command raiseEventLoopPriority runs (tests: one that fails, as a refused capability would). */
export function setRealtimeTool(tool: string[] | undefined): void {
  realtimeTool = tool;
}

/**
 * Puts one thread, by default this process's main thread (the event loop
 * that decides at the gate; Linux gives it the process id as its thread id),
 * under SCHED_RR at `priority` (1-99), with reset-on-fork so that threads
 * and processes it starts later (libuv's pool, workers, the SCHED_IDLE
 * snapshot build) get normal priority. V8's helper threads, started before,
 * keep theirs.
 *
 * Why: on a shared box the event loop otherwise waits behind any normal
 * thread that holds its core, its own GC helpers included, until the
 * scheduler's next tick: `bench snapshot` on the 2-core build machine saw
 * 5-19 ms of such waits; at SCHED_RR they were gone (docs/access.md, tenth
 * session). The kernel throttles real-time threads at 95 % of each second
 * (sched_rt_runtime_us), so a runaway loop cannot lock the box up.
 *
 * Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least `priority` (systemd:
 * LimitRTPRIO=, and RestrictRealtime=no). Uses chrt(1) (util-linux), as Node
 * has no binding for sched_setscheduler(2). Synchronous: called once at
 * start-up, before any lane decides.
 */
export function raiseEventLoopPriority(priority: number, tid: number = process.pid): RealtimeResult {
  if (process.platform !== 'linux') return { ok: false, reason: `real-time priority is only set on Linux (this is ${process.platform})` };
  if (!Number.isInteger(priority) || priority < 1 || priority > 99) return { ok: false, reason: `priority ${priority} is outside 1-99` };
  const chrt = chrtPath();
  const [command, ...pre] = realtimeTool ?? (chrt ? [chrt] : []);
  if (command === undefined) return { ok: false, reason: 'chrt(1) is not installed (util-linux)' };
  const result = spawnSync(command, [...pre, '--rr', '--reset-on-fork', '--pid', String(priority), String(tid)], { encoding: 'utf8', timeout: 5_000 });
  if (result.error) return { ok: false, reason: `${command} could not run: ${result.error.message}` };
  if (result.status !== 0) return { ok: false, reason: `${command} refused (exit ${String(result.status)}): ${(result.stderr || result.stdout).trim() || 'no message'}` };
  return { ok: true, priority };
}

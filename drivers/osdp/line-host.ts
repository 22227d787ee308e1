import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../gateway/core/worker.js';
import type { QueuedCommand } from './session.js';
import type { LineHandle, LineListener, LineSettings } from './line.js';
import type { FromLineWorker, ToLineWorker } from './line-protocol.js';

/**
 * Runs the gateway's OSDP lines on one worker thread, off the event loop
 * that decides at the gate. In the stadium surge (docs/benchmarks.md) the
 * main thread was busy 84-86 % of the median second, and the OSDP buses
 * (polls, Secure Channel MACs, PTY writes and reads: ~1,300 exchanges a
 * second over 16 buses) were about 13 % of that; across the boundary only
 * cards, feedback and state changes go, a few messages a second per reader.
 *
 * One worker for all lines, not one per bus: every worker is a V8 isolate
 * of its own (~10 MB), and one thread keeps up with many buses since each
 * spends most of its time waiting on the wire. If the thread dies, every
 * line it ran reports `GH_OSDP_WORKER` and goes offline, and the thread is
 * restarted with backoff and the lines reopened (DESIGN.md: a driver that
 * fails is restarted, never left dead).
 *
 * Opt-in (`thread: worker`): on the 2-core build machine it made decisions
 * slower and cost ~20-40 MB of RSS (docs/osdp.md "The OSDP thread").
 */

export interface LineHostOptions {
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** Creates the worker; the default runs line-worker.ts (or .js once compiled). */
  createWorker?: () => Worker;
}

interface HostedLine {
  settings: LineSettings;
  listener: LineListener;
  started?: () => void;
  stopped?: () => void;
}

/**
 * A small heap for the worker: its garbage is small frames and replies. The gateway's 8 MB
 * semi-spaces (gateway/ops/node-flags.ts) are a process-wide V8 flag, sized for the main thread's surge.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 96 };

function defaultWorker(): Worker {
  return startModuleWorker(new URL('./line-worker.js', import.meta.url), import.meta.url, { resourceLimits: WORKER_LIMITS, stdout: false, stderr: false });
}

export class OsdpLineHost {
  private worker: Worker | undefined;
  private readonly lines = new Map<string, HostedLine>();
  private nextKey = 0;
  private restartMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartCount = 0;

  constructor(private readonly options: LineHostOptions = {}) {
    this.restartMs = options.restartInitialMs ?? 1000;
  }

  /** How many times the worker was restarted after failing (status, tests). */
  restarts(): number {
    return this.restartCount;
  }

  /** True while a worker thread runs (it stops when the last line does). */
  running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * A line on the worker. Its `start()` rejects only if the worker cannot be
   * created at all (the driver then runs the line on the main thread).
   */
  open(settings: LineSettings, listener: LineListener): LineHandle {
    const key = `${settings.config.id}#${this.nextKey++}`;
    return {
      start: () => this.start(key, { settings, listener }),
      feedback: (address, commands) => this.feedback(key, address, commands),
      stop: () => this.stop(key),
    };
  }

  /** Ends the worker thread at once, as a crash would (tests break it on purpose with this). */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(key: string, line: HostedLine): Promise<void> {
    // A thread down and waiting out its backoff: this start brings it back, for the lines that were waiting too.
    const waiting = this.restartTimer !== undefined;
    this.ensureWorker();
    this.lines.set(key, line);
    return new Promise<void>((resolve) => {
      line.started = resolve;
      if (waiting) this.reopenAll();
      else this.post({ type: 'open', id: key, settings: line.settings });
    });
  }

  private feedback(key: string, address: number, commands: QueuedCommand[]): void {
    const line = this.lines.get(key);
    if (!line) return;
    if (!this.worker) {
      line.listener.event({ type: 'error', code: 'GH_OSDP_TIMEOUT', reason: 'feedback_reader_offline', detail: `reader ${address} is not online (its OSDP thread is restarting); feedback dropped`, address });
      return;
    }
    this.post({ type: 'feedback', id: key, address, commands });
  }

  private async stop(key: string): Promise<void> {
    const line = this.lines.get(key);
    if (!line) return;
    if (this.worker) {
      await new Promise<void>((resolve) => {
        line.stopped = resolve;
        this.post({ type: 'stop', id: key });
      });
    }
    this.lines.delete(key);
    if (this.lines.size === 0) await this.shutDown();
  }

  private async shutDown(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private post(m: ToLineWorker): void {
    this.worker?.postMessage(m);
  }

  private ensureWorker(): void {
    if (this.worker) return;
    const worker = (this.options.createWorker ?? defaultWorker)();
    this.worker = worker;
    worker.on('message', (m: FromLineWorker) => this.onMessage(m));
    worker.on('error', (err) => this.failed(worker, err.message));
    worker.on('exit', (code) => this.failed(worker, `exited with code ${code}`));
  }

  private onMessage(m: FromLineWorker): void {
    const line = this.lines.get(m.id);
    if (!line) return;
    switch (m.type) {
      case 'started':
        line.started?.();
        line.started = undefined;
        // The worker is working: the next failure starts the backoff afresh.
        this.restartMs = this.options.restartInitialMs ?? 1000;
        return;
      case 'event':
        line.listener.event(m.event);
        return;
      case 'exchanges':
        for (const [address, n] of m.counts) line.listener.exchanges(address, n);
        return;
      case 'stopped':
        line.stopped?.();
        line.stopped = undefined;
        return;
    }
  }

  /** The worker died (uncaught error, out of memory, terminated): report it on every line, then restart. */
  private failed(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.down(reason);
  }

  private down(reason: string): void {
    for (const line of this.lines.values()) {
      line.listener.event({ type: 'error', code: 'GH_OSDP_WORKER', reason: 'worker_failed', detail: `the OSDP thread failed (${reason}); restarting it in ${this.restartMs} ms` });
      line.listener.event({ type: 'line', state: 'offline', reason: `OSDP thread failed: ${reason}`, lost: true });
      // Whoever waits for a start or a stop is not left hanging: the line is down either way.
      line.started?.();
      line.started = undefined;
      line.stopped?.();
      line.stopped = undefined;
    }
    if (this.lines.size === 0 || this.restartTimer) return;
    const delay = this.restartMs;
    this.restartMs = Math.min(this.options.restartMaxMs ?? 30_000, this.restartMs * 2);
    this.restartTimer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    this.restartTimer = undefined;
    if (this.lines.size === 0 || this.worker) return;
    try {
      this.ensureWorker();
    } catch (err) {
      this.down((err as Error).message);
      return;
    }
    this.reopenAll();
  }

  /** Opens every line on a restarted worker. */
  private reopenAll(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restartCount += 1;
    for (const [id, line] of this.lines) this.post({ type: 'open', id, settings: line.settings });
  }
}

let shared: OsdpLineHost | undefined;

/** The process's one OSDP line host, shared by every OSDP driver of the gateway. */
export function sharedLineHost(): OsdpLineHost {
  shared ??= new OsdpLineHost();
  return shared;
}

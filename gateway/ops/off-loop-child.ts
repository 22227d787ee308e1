import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';

/**
 * A child process started from a worker thread rather than from the event
 * loop, for processes started while the gate is deciding (the snapshot build,
 * issue #8: no pause longer than a few milliseconds).
 *
 * `child_process.spawn` forks (libuv 1.46, Node 20), and fork(2) copies the
 * page tables of the whole process and write-protects every page before the
 * child can exec. Measured on the 2-core build machine, the calling thread
 * was held 3-8 ms at 45 MB RSS and 8-20 ms at 190-330 MB, a gateway's size
 * while a snapshot loads; `bench snapshot` had its worst gap (11-15 ms, on the
 * CPU) at the start of the apply in 2 of 10 runs. From a worker thread a
 * test loop saw 3-5 ms instead, and `bench snapshot`'s largest gap in the
 * apply's first 0.1 s was 5.6-11.1 ms (10 runs) against 12.8-18.8 ms (6
 * interleaved runs): the kernel still locks the memory areas it copies, so
 * a page fault on the event loop can wait for the copy, but the loop no
 * longer does the copying.
 *
 * The worker only relays: messages both ways on the child's IPC channel
 * (advanced serialization), stderr as text, 'error', 'disconnect' and 'exit'.
 * It is plain CommonJS evaluated from a string, so it needs no TypeScript
 * loader, and it ends when the child does.
 */

const RELAY_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const post = (m) => parentPort.postMessage(m);
let child;
try {
  child = spawn(workerData.command, workerData.args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
} catch (err) {
  post({ t: 'error', message: String((err && err.message) || err), code: err && err.code });
  post({ t: 'exit', code: null, signal: null });
  parentPort.close();
}
if (child) {
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => post({ t: 'stderr', text }));
  child.on('message', (m) => post({ t: 'message', m }));
  child.on('error', (err) => {
    post({ t: 'error', message: err.message, code: err.code });
    // A child that never started (ENOENT, EACCES) has no exit to wait for.
    if (child.pid === undefined) {
      post({ t: 'exit', code: null, signal: null });
      parentPort.close();
    }
  });
  child.on('disconnect', () => post({ t: 'disconnect' }));
  child.on('exit', (code, signal) => {
    post({ t: 'exit', code, signal });
    parentPort.close();
  });
  parentPort.on('message', (m) => {
    if (m.t === 'send') {
      if (child.connected) child.send(m.m);
    } else if (m.t === 'kill') child.kill(m.signal);
  });
}
`;

type FromRelay =
  | { t: 'message'; m: unknown }
  | { t: 'stderr'; text: string }
  | { t: 'error'; message: string; code?: string }
  | { t: 'disconnect' }
  | { t: 'exit'; code: number | null; signal: NodeJS.Signals | null };

/**
 * What the snapshot builder uses of a ChildProcess. Events: 'message' (m),
 * 'error' (Error with `code`), 'disconnect', 'exit' (code, signal); `stderr`
 * emits 'data' with text.
 */
export interface OffLoopChild extends EventEmitter {
  readonly connected: boolean;
  readonly stderr: EventEmitter;
  /** Queues `message` for the child; false once its channel is closed. */
  send(message: unknown): boolean;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnOffLoop(command: string, args: readonly string[]): OffLoopChild {
  return new RelayedChild(command, args);
}

class RelayedChild extends EventEmitter implements OffLoopChild {
  readonly stderr = new EventEmitter();
  private open = true;
  private exited = false;
  private readonly worker: Worker;

  constructor(command: string, args: readonly string[]) {
    super();
    this.worker = new Worker(RELAY_SOURCE, { eval: true, workerData: { command, args: [...args] } });
    this.worker.on('message', (m: FromRelay) => this.relayed(m));
    // The relay itself failing (out of memory, terminated) leaves no one to talk to the child.
    this.worker.on('error', (err) => this.emit('error', err));
    this.worker.on('exit', () => this.exit(null, null));
  }

  get connected(): boolean {
    return this.open;
  }

  send(message: unknown): boolean {
    if (!this.open) return false;
    this.worker.postMessage({ t: 'send', m: message });
    return true;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.exited) this.worker.postMessage({ t: 'kill', signal });
  }

  private relayed(m: FromRelay): void {
    switch (m.t) {
      case 'message':
        this.emit('message', m.m);
        return;
      case 'stderr':
        this.stderr.emit('data', m.text);
        return;
      case 'error':
        this.emit('error', Object.assign(new Error(m.message), m.code !== undefined ? { code: m.code } : {}));
        return;
      case 'disconnect':
        this.disconnect();
        return;
      case 'exit':
        this.exit(m.code, m.signal);
        return;
    }
  }

  private disconnect(): void {
    if (!this.open) return;
    this.open = false;
    this.emit('disconnect');
  }

  private exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.disconnect();
    this.emit('exit', code, signal);
  }
}

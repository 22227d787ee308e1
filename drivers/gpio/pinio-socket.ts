import { connect, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import type { Clock } from '../../gateway/core/clock.js';
import { GatehouseError } from '../../gateway/errors.js';
import { PinWatchers } from './pin-watchers.js';
import type { Level, LineRequest, PinIO } from './pinio.js';

/**
 * Parses one line of the socket edge protocol (docs/readers.md, "Simulated lines"):
 *   [+GAP] d0 | d1              a Wiegand bit: a low pulse on line d0 / d1
 *   [+GAP] pulse NAME           a low pulse on any input
 *   [+GAP] in NAME 0|1          an input changes level
 *   # comment / empty line      ignored
 * GAP (ms, may be fractional) stamps the event at least GAP after the previous
 * one, so a client can send a whole pulse train in one write with its real timing.
 */
export type SocketCommand =
  | { op: 'pulse'; line: string; gapMs?: number }
  | { op: 'in'; line: string; value: Level; gapMs?: number }
  | { op: 'none' }
  | { op: 'error'; detail: string };

export function parseSocketLine(text: string): SocketCommand {
  const words = text.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0 || words[0]!.startsWith('#')) return { op: 'none' };
  let gapMs: number | undefined;
  if (words[0]!.startsWith('+')) {
    gapMs = Number(words[0]!.slice(1));
    if (!Number.isFinite(gapMs) || gapMs < 0 || gapMs > 3_600_000) return { op: 'error', detail: `bad gap "${words[0]}"` };
    words.shift();
  }
  const [op, a, b] = words;
  const gap = gapMs === undefined ? {} : { gapMs };
  if ((op === 'd0' || op === 'd1') && words.length === 1) return { op: 'pulse', line: op, ...gap };
  if (op === 'pulse' && a !== undefined && words.length === 2) return { op: 'pulse', line: a, ...gap };
  if (op === 'in' && a !== undefined && (b === '0' || b === '1') && words.length === 3) return { op: 'in', line: a, value: b === '1' ? 1 : 0, ...gap };
  return { op: 'error', detail: `unknown command "${text.trim().slice(0, 60)}"` };
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * A PinIO whose inputs are driven by clients of a Unix socket the gateway
 * listens on (venue simulator, demo, integration tests). Every output write is
 * sent to all clients as `out NAME 0|1`.
 */
export function createSocketPinIO(options: { path: string; clock: Pick<Clock, 'monotonic'> }): PinIO {
  const { path, clock } = options;
  const levels = new Map<string, Level>();
  const directions = new Map<string, 'in' | 'out'>();
  const watchers = new PinWatchers();
  const clients = new Set<Socket>();
  let server: Server | undefined;

  const setLevel = (line: string, value: Level, monoAt: number) => {
    if (levels.get(line) === value) return;
    levels.set(line, value);
    watchers.emit(line, value, monoAt);
  };

  const serve = (socket: Socket) => {
    clients.add(socket);
    socket.setEncoding('utf8');
    let pending = '';
    let last = -Infinity;
    const stamp = (gapMs: number | undefined) => {
      last = Math.max(clock.monotonic(), last + (gapMs ?? 0));
      return last;
    };
    socket.on('data', (chunk: string) => {
      pending += chunk;
      if (pending.length > 65_536) {
        socket.end('err line too long\n');
        pending = '';
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const cmd = parseSocketLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (cmd.op === 'none') continue;
        if (cmd.op === 'error') {
          socket.write(`err ${cmd.detail}\n`);
          continue;
        }
        if (directions.get(cmd.line) !== 'in') {
          socket.write(`err no input line "${cmd.line}"\n`);
          continue;
        }
        const at = stamp(cmd.gapMs);
        if (cmd.op === 'pulse') {
          setLevel(cmd.line, 0, at);
          setLevel(cmd.line, 1, at);
        } else {
          setLevel(cmd.line, cmd.value, at);
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clients.delete(socket));
  };

  return {
    kind: 'socket',
    async open(lines: readonly LineRequest[]) {
      for (const l of lines) {
        levels.set(l.name, l.initial);
        directions.set(l.name, l.direction);
      }
      let existing = false;
      try {
        existing = lstatSync(path, { throwIfNoEntry: false })?.isSocket() === true;
      } catch {
        // Unreadable path: listen() below reports the real problem.
      }
      if (existing) {
        // A socket file left by a previous run would make listen() fail with EADDRINUSE;
        // one that still answers belongs to a live listener (two devices on one path).
        if (await isListening(path)) throw new GatehouseError('GH_GPIO_UNAVAILABLE', `GPIO socket ${path} is in use by another listener (two devices on one path?)`, { path });
        try {
          unlinkSync(path);
        } catch {
          // listen() below reports the real problem.
        }
      }
      const srv = createServer(serve);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err) => reject(new GatehouseError('GH_GPIO_UNAVAILABLE', `cannot listen on GPIO socket ${path}: ${err.message}`, { path }, { cause: err })));
        srv.listen(path, () => resolve());
      });
      server = srv;
    },
    read(name) {
      const v = levels.get(name);
      if (v === undefined) throw new Error(`unknown line ${name}`);
      return v;
    },
    write(name, value) {
      if (directions.get(name) !== 'out') throw new Error(`line ${name} is not an output`);
      levels.set(name, value);
      for (const c of clients) c.write(`out ${name} ${value}\n`);
    },
    watch: (name, listener) => watchers.watch(name, listener),
    async close() {
      watchers.clear();
      for (const c of clients) c.destroy();
      clients.clear();
      const srv = server;
      server = undefined;
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

import { GatehouseError, type ErrorCode } from '../../gateway/errors.js';
import { openSerialTransport, type Transport } from '../serial/transport.js';
import { OsdpBus } from './bus.js';
import type { OsdpDeviceConfig, OsdpReaderConfig } from './config.js';
import { readKeyFile, resolveKeyPath, writeKeyFile } from './key-file.js';
import { ReaderSession, type QueuedCommand, type SessionEvent } from './session.js';

/**
 * One RS-485 line with everything that runs at its pace: the transport (and
 * its reopening with backoff), the poll scheduler and the readers' sessions.
 * About 33 exchanges a second per reader, each a frame, a MAC and a PTY
 * write and read, and none of it needs the access engine. So it can run on
 * a thread of its own (line-host.ts) and report only what the driver acts
 * on: cards, reader states, errors. It does no logging and keeps no metrics:
 * it reports, and the driver (driver.ts) logs, counts and publishes.
 */

/** What a line reports to its driver. Plain data: it crosses the worker boundary by structured clone. */
export type LineEvent =
  /** The transport opened (`online`), failed to open, or was lost (`lost`: its readers went with it). */
  | { type: 'line'; state: 'online' | 'offline'; reason?: string; lost?: boolean }
  | { type: 'session'; address: number; event: SessionEvent }
  | { type: 'error'; code: ErrorCode; reason: string; detail: string; address?: number };

export interface LineListener {
  event(e: LineEvent): void;
  /** `n` more completed exchanges with the reader at `address`. */
  exchanges(address: number, n: number): void;
}

/** What the driver holds of a line, wherever it runs. */
export interface LineHandle {
  /** Opens the transport (first attempt; later ones retry with backoff on their own). */
  start(): Promise<void>;
  /** Queues decision feedback for the reader's next slot; reported as an error when the reader is not online. */
  feedback(address: number, commands: QueuedCommand[]): void;
  stop(): Promise<void>;
}

/** Everything a line needs that can cross a thread boundary. */
export interface LineSettings {
  config: OsdpDeviceConfig;
  /** Directory that relative key file paths resolve against. */
  baseDir?: string;
  reopenInitialMs?: number;
  reopenMaxMs?: number;
}

export interface LineOptions extends LineSettings {
  /** Opens the line; defaults to the serialport adapter. */
  openTransport?: (options: { path: string; baudRate: number }) => Promise<Transport>;
  /** Monotonic ms. */
  now?: () => number;
}

/** Session events the driver does nothing with: not worth a message across threads. */
const UNUSED_EVENTS: ReadonlySet<SessionEvent['type']> = new Set(['inputs', 'command_done']);

export function isForwarded(e: SessionEvent): boolean {
  return !UNUSED_EVENTS.has(e.type);
}

export function startLine(options: LineOptions, listener: LineListener): LineHandle {
  return new Line(options, listener);
}

class Line implements LineHandle {
  private readonly cfg: OsdpDeviceConfig;
  private readonly now: () => number;
  private transport: Transport | undefined;
  private bus: OsdpBus | undefined;
  private sessions = new Map<number, ReaderSession>();
  private stopped = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenMs: number;

  constructor(
    private readonly options: LineOptions,
    private readonly listener: LineListener,
  ) {
    this.cfg = options.config;
    this.now = options.now ?? (() => performance.now());
    this.reopenMs = options.reopenInitialMs ?? 1000;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.bus?.stop();
    this.bus = undefined;
    const t = this.transport;
    this.transport = undefined;
    await t?.close().catch(() => undefined);
  }

  feedback(address: number, commands: QueuedCommand[]): void {
    const session = this.sessions.get(address);
    for (const c of commands) {
      if (!session?.enqueue(c)) {
        this.error('GH_OSDP_TIMEOUT', 'feedback_reader_offline', `reader ${address} is not online; feedback dropped`, address);
        return;
      }
    }
    this.bus?.kick();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const open = this.options.openTransport ?? ((o: { path: string; baudRate: number }) => openSerialTransport(o));
    let transport: Transport;
    try {
      transport = await open({ path: this.cfg.path, baudRate: this.cfg.baudRate });
    } catch (err) {
      const code: ErrorCode = err instanceof GatehouseError ? err.code : 'GH_SERIAL_OPEN';
      this.error(code, 'open_failed', (err as Error).message);
      this.listener.event({ type: 'line', state: 'offline', reason: `${(err as Error).message}; retrying in ${Math.round(this.reopenMs / 1000)} s` });
      this.scheduleReopen();
      return;
    }
    if (this.stopped) {
      await transport.close().catch(() => undefined);
      return;
    }
    this.transport = transport;
    this.reopenMs = this.options.reopenInitialMs ?? 1000;
    this.sessions = new Map();
    for (const r of this.cfg.readers) this.sessions.set(r.address, this.makeSession(r, this.now()));
    const bus = new OsdpBus({
      transport,
      sessions: [...this.sessions.values()],
      now: this.now,
      onError: (e) => this.error(e.code, e.reason, e.detail, e.address),
      onExchange: (address) => this.listener.exchanges(address, 1),
      onWriteError: (err) => this.lost(transport, err),
    });
    this.bus = bus;
    transport.onClose((err) => this.lost(transport, err));
    this.listener.event({ type: 'line', state: 'online' });
    bus.start();
  }

  private lost(transport: Transport, err?: Error): void {
    if (this.transport !== transport) return;
    this.bus?.stop();
    this.bus = undefined;
    this.transport = undefined;
    void transport.close().catch(() => undefined);
    if (this.stopped) return;
    const reason = err ? `serial line lost: ${err.message}` : 'serial line closed';
    this.error('GH_SERIAL_OPEN', 'line_lost', reason);
    this.listener.event({ type: 'line', state: 'offline', reason, lost: true });
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    const delay = this.reopenMs;
    this.reopenMs = Math.min(this.options.reopenMaxMs ?? 30_000, this.reopenMs * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.open();
    }, delay);
  }

  private makeSession(r: OsdpReaderConfig, now: number): ReaderSession {
    let secure;
    if (r.secureChannel) {
      const path = resolveKeyPath(r.secureChannel.keyFile, this.options.baseDir);
      let scbk: Buffer | undefined;
      try {
        scbk = readKeyFile(path);
      } catch (err) {
        this.error('GH_OSDP_KEY', 'key_file', (err as Error).message, r.address);
      }
      secure = {
        ...(scbk ? { scbk } : {}),
        install: r.secureChannel.install,
        allowPlaintext: r.secureChannel.allowPlaintext,
        saveKey: (key: Buffer) => writeKeyFile(path, key),
      };
    }
    const session = new ReaderSession(
      {
        address: r.address,
        baudRate: this.cfg.baudRate,
        replyTimeoutMs: this.cfg.replyTimeoutMs,
        offlineAfterMs: this.cfg.offlineAfterMs,
        pollIntervalMs: this.cfg.pollIntervalMs,
        ...(secure ? { secure } : {}),
      },
      now,
    );
    session.on((event) => this.listener.event({ type: 'session', address: r.address, event }));
    return session;
  }

  private error(code: ErrorCode, reason: string, detail: string, address?: number): void {
    this.listener.event({ type: 'error', code, reason, detail, ...(address !== undefined ? { address } : {}) });
  }
}

import type { Transport } from '../serial/transport.js';
import type { ErrorCode } from '../../gateway/errors.js';
import { decodeFrames, pendingFrameLength, DEFAULT_MAX_FRAME } from './frame.js';
import type { ReaderSession } from './session.js';

/**
 * One RS-485 line, half duplex: exactly one command is outstanding at a time.
 * What a real ACU does with it:
 * - queued decision feedback takes the next free slot, ahead of other readers'
 *   polls (the person at the turnstile is waiting for it);
 * - an idle reader is polled once per poll interval (`ReaderSession.dueAt`),
 *   and while no reader is due the line sleeps until the earliest one is;
 * - readers that are due take the line in round-robin order, so a silent
 *   reader costs the others at most its own reply timeout per slot, and once
 *   offline it is only probed at its backoff interval.
 */

export interface BusError {
  code: ErrorCode;
  reason: string;
  detail: string;
  /** Reader the problem belongs to, when known. */
  address?: number;
}

export interface OsdpBusOptions {
  transport: Transport;
  sessions: ReaderSession[];
  /** Monotonic ms. */
  now: () => number;
  onError: (e: BusError) => void;
  /** Called after each completed exchange (polls_per_s, metrics). */
  onExchange?: (address: number) => void;
  /** Called when a write fails: the driver reopens the transport. */
  onWriteError?: (err: Error) => void;
  maxFrame?: number;
}

export class OsdpBus {
  private rx: Buffer = Buffer.alloc(0);
  private current: ReaderSession | undefined;
  /** Round-robin position: where the search for the next reader (urgent or due) starts. */
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private readonly byAddress: Map<number, ReaderSession>;

  constructor(private readonly options: OsdpBusOptions) {
    this.byAddress = new Map(options.sessions.map((s) => [s.address, s]));
  }

  start(): void {
    this.running = true;
    this.options.transport.onData((chunk) => this.onData(chunk));
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Wakes the scheduler early (a feedback command was queued while the line was idle). */
  kick(): void {
    if (this.running && !this.current) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (delayMs <= 0) this.immediate = setImmediate(() => this.step());
    else this.timer = setTimeout(() => this.step(), Math.ceil(delayMs));
  }

  private step(): void {
    this.timer = undefined;
    this.immediate = undefined;
    if (!this.running) return;
    const now = this.options.now();
    if (this.current) {
      this.current.tick(now);
      if (this.current.awaiting()) {
        this.schedule(this.current.deadline()! - now);
        return;
      }
      this.endExchange(false);
    }
    const sessions = this.options.sessions;
    const n = sessions.length;
    const start = this.next;
    // Decision feedback jumps the queue: the person at the turnstile is waiting for it. It is
    // bounded (a few commands per card read, one read per poll of that reader), and only a first
    // transmission jumps: retransmissions to a reader that went quiet wait for its round-robin turn.
    for (let k = 0; k < n; k++) {
      const s = sessions[(start + k) % n]!;
      if (s.hasFreshCommand(now) && this.send(s, now)) return;
    }
    let wake = Infinity;
    for (let k = 0; k < n; k++) {
      const s = sessions[(start + k) % n]!;
      const due = s.dueAt();
      if (due > now) {
        wake = Math.min(wake, due);
        continue;
      }
      this.next = (start + k + 1) % n;
      if (this.send(s, now)) return;
      // Nothing to send after all (a handshake step failed before sending): it has a new due time.
      wake = Math.min(wake, s.dueAt());
    }
    // Nobody is due: sleep until the earliest poll or probe, or until kick() brings feedback.
    this.schedule(Number.isFinite(wake) ? Math.max(1, wake - now) : 50);
  }

  private send(s: ReaderSession, now: number): boolean {
    const bytes = s.nextMessage(now);
    if (!bytes) return false;
    this.current = s;
    this.options.transport.write(bytes).catch((err: unknown) => this.options.onWriteError?.(err as Error));
    this.schedule(s.deadline()! - now);
    return true;
  }

  private endExchange(completed: boolean): void {
    const s = this.current!;
    this.current = undefined;
    if (this.rx.length > 0) {
      this.options.onError({ code: 'GH_OSDP_BAD_FRAME', reason: 'truncated', detail: `${this.rx.length} byte(s) of an unfinished frame dropped`, address: s.address });
      this.rx = Buffer.alloc(0);
    }
    if (completed) this.options.onExchange?.(s.address);
  }

  private onData(chunk: Buffer): void {
    const now = this.options.now();
    const { frames, rest, errors } = decodeFrames(this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk, { maxFrame: this.options.maxFrame ?? DEFAULT_MAX_FRAME });
    this.rx = rest;
    const current = this.current;
    for (const e of errors) this.options.onError({ code: e.code, reason: e.reason, detail: e.detail, ...(current ? { address: current.address } : {}) });
    for (const frame of frames) {
      if (!frame.reply) {
        // Our own command echoed by a 2-wire adapter, or another master on the line.
        this.options.onError({ code: 'GH_OSDP_BAD_FRAME', reason: 'not_a_reply', detail: `command 0x${frame.code.toString(16)} to ${frame.address} seen on the line` });
        continue;
      }
      if (!this.current) {
        this.options.onError({ code: 'GH_OSDP_FLOOD', reason: 'unsolicited', detail: `reply from ${frame.address} while no command was outstanding`, address: frame.address });
        continue;
      }
      if (frame.address !== this.current.address) {
        const known = this.byAddress.has(frame.address);
        this.options.onError({ code: 'GH_OSDP_ADDRESS', reason: known ? 'out_of_turn' : 'unknown_address', detail: `reply from ${frame.address} while waiting for ${this.current.address}`, address: frame.address });
        continue;
      }
      this.current.handleFrame(frame, now);
      if (!this.current.awaiting()) {
        this.endExchange(true);
        this.schedule(0);
      }
    }
    if (this.current && this.rx.length > 0) {
      const declared = pendingFrameLength(this.rx);
      if (declared !== undefined) {
        this.current.extendForIncoming(declared);
        this.schedule(this.current.deadline()! - now);
      }
    } else if (!this.current && this.rx.length > 0 && frames.length === 0 && errors.length === 0) {
      // Bytes while nobody was asked: keep at most one frame's worth, the rest is a flood.
      if (this.rx.length > (this.options.maxFrame ?? DEFAULT_MAX_FRAME)) {
        this.options.onError({ code: 'GH_OSDP_FLOOD', reason: 'unsolicited', detail: `${this.rx.length} byte(s) arrived while no command was outstanding` });
        this.rx = Buffer.alloc(0);
      }
    }
  }
}

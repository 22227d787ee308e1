import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../../gateway/errors.js';
import { wireTimeMs } from '../serial/transport.js';
import { encodeFrame, type OsdpFrame } from './frame.js';
import { CMD, commandName, encodeKeyset } from './commands.js';
import { DEFAULT_POLL_INTERVAL_MS } from './config.js';
import { REPLY, decodeReply, isReplyError, replyName, type Reply } from './replies.js';
import {
  KEY_SCBK,
  KEY_SCBK_D,
  SCBK_D,
  SCS,
  SecureChannel,
  clientCryptogram,
  deriveSessionKeys,
  initialRmac,
  sameBytes,
  serverCryptogram,
  type SessionKeys,
} from './secure-channel.js';

/**
 * The control panel's view of one reader (PD): an explicit state machine,
 * driven by the bus scheduler (bus.ts) with `now` from an injected monotonic
 * clock. No timers and no I/O here: the scheduler asks for the next message,
 * hands back replies and calls `tick(now)`.
 *
 * Phases, as a table (PHASES below): phase -> command sent -> reply expected -> next phase
 *   id     -> ID      -> PDID   -> cap
 *   cap    -> CAP     -> PDCAP  -> chlng (secure channel configured) | ready
 *   chlng  -> CHLNG   -> CCRYPT -> scrypt (client cryptogram verified)
 *   scrypt -> SCRYPT  -> RMAC_I -> keyset (install mode: SCBK-D in use) | ready
 *   keyset -> KEYSET  -> ACK    -> chlng (again, with the new key)
 *   ready  -> queued command or POLL -> any reply -> ready
 * Timeouts retransmit the same bytes with the same sequence number (OSDP 2.2 §5.7);
 * after `offlineAfterMs` without a valid reply the reader is offline and is
 * probed with ID (sequence 0) at growing intervals.
 */

export type Phase = 'id' | 'cap' | 'chlng' | 'scrypt' | 'keyset' | 'ready';
export type ReaderState = 'starting' | 'online' | 'offline';

export interface SecureOptions {
  /** The reader's SCBK; undefined when none has been installed yet. */
  scbk?: Buffer;
  /** Install mode: with no SCBK (or when it fails), handshake with SCBK-D and KEYSET a fresh key. */
  install: boolean;
  /** On handshake failure carry on in plain text (reported every time). Off by default. */
  allowPlaintext: boolean;
  /** Persists a new SCBK before KEYSET is sent; throw to abort the install. */
  saveKey?: (key: Buffer) => void;
}

export interface SessionOptions {
  address: number;
  baudRate: number;
  replyTimeoutMs?: number;
  offlineAfterMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Most feedback commands kept for the next poll slots; older ones are dropped first. */
  maxQueue?: number;
  /** Gap between two POLLs to this reader while it has nothing else to send (see `dueAt`). */
  pollIntervalMs?: number;
  secure?: SecureOptions;
  /** Random bytes (RND.A, new keys); injectable for tests. */
  random?: (n: number) => Buffer;
}

export type SessionEvent =
  | { type: 'state'; state: ReaderState; secure: boolean; reason?: string; code?: ErrorCode }
  | { type: 'card'; reader: number; format: number; bits: string }
  | { type: 'keypad'; reader: number; digits: string }
  | { type: 'tamper'; tamper: boolean; powerFailure: boolean }
  | { type: 'inputs'; states: number[] }
  | { type: 'identity'; reply: Reply }
  | { type: 'keyset'; ok: boolean }
  | { type: 'plaintext_fallback'; reason: string }
  | { type: 'command_done'; command: string; ok: boolean; reason?: string }
  | { type: 'error'; code: ErrorCode; reason: string; detail: string };

export interface QueuedCommand {
  code: number;
  data: Buffer;
}

interface Pending {
  bytes: Buffer;
  code: number;
  sequence: number;
  sentAt: number;
  deadline: number;
  /** The queued command this message carries (ready phase), to report its outcome. */
  queued?: QueuedCommand;
}

interface Outgoing {
  code: number;
  data?: Buffer;
  /** Handshake security block (CHLNG/SCRYPT), sent without MAC. */
  scb?: { type: number; data: Buffer };
  queued?: QueuedCommand;
}

interface PhaseSpec {
  send(s: ReaderSession): Outgoing;
  expect: number;
  /** Returns the next phase, or an error reason to fail the handshake. */
  accept(s: ReaderSession, reply: Reply, now: number): Phase | { fail: string };
}

const PHASES: Record<Exclude<Phase, 'ready'>, PhaseSpec> = {
  id: { send: () => ({ code: CMD.ID, data: Buffer.from([0]) }), expect: REPLY.PDID, accept: (s, r) => (s.identity(r), 'cap') },
  cap: { send: () => ({ code: CMD.CAP, data: Buffer.from([0]) }), expect: REPLY.PDCAP, accept: (s, r) => (s.identity(r), s.secureConfigured() ? 'chlng' : 'ready') },
  chlng: { send: (s) => s.challenge(), expect: REPLY.CCRYPT, accept: (s, r) => s.checkCcrypt(r) },
  scrypt: { send: (s) => s.scrypt(), expect: REPLY.RMAC_I, accept: (s, r, now) => s.checkRmacI(r, now) },
  keyset: { send: (s) => s.keyset(), expect: REPLY.ACK, accept: (s) => s.keysetDone() },
};

/** Handlers for replies to POLL and queued commands (OSDP 2.2 §7), one per reply type. */
const READY_HANDLERS: Partial<Record<number, (s: ReaderSession, r: Reply) => void>> = {
  [REPLY.ACK]: () => {},
  [REPLY.RAW]: (s, r) => r.name === 'RAW' && 'bits' in r && s.emit({ type: 'card', reader: r.reader, format: r.format, bits: r.bits }),
  [REPLY.KEYPAD]: (s, r) => r.name === 'KEYPAD' && 'digits' in r && s.emit({ type: 'keypad', reader: r.reader, digits: r.digits }),
  [REPLY.LSTATR]: (s, r) => r.name === 'LSTATR' && 'tamper' in r && s.emit({ type: 'tamper', tamper: r.tamper, powerFailure: r.powerFailure }),
  [REPLY.ISTATR]: (s, r) => 'states' in r && s.emit({ type: 'inputs', states: r.states }),
  [REPLY.OSTATR]: () => {},
  [REPLY.PDID]: (s, r) => s.identity(r),
  [REPLY.PDCAP]: (s, r) => s.identity(r),
  [REPLY.COM]: () => {},
};

const nextSequence = (n: number) => (n % 3) + 1;

/** First spacing of retransmissions to a reader that missed two replies in a row, doubling up to the max (see `tick`). */
const SUSPECT_RETRY_MS = 250;
const SUSPECT_RETRY_MAX_MS = 1000;

export class ReaderSession {
  readonly address: number;
  private readonly baudRate: number;
  private readonly replyTimeoutMs: number;
  private readonly offlineAfterMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxQueue: number;
  private readonly pollIntervalMs: number;
  private readonly random: (n: number) => Buffer;
  private readonly listeners: Array<(e: SessionEvent) => void> = [];

  private phase: Phase = 'id';
  private stateValue: ReaderState = 'starting';
  private sequence = 0;
  private pending: Pending | undefined;
  private resend = false;
  private lastHeardAt: number;
  private nextAttemptAt = 0;
  /** Reply timeouts in a row since the reader last answered (see `tick`). */
  private missed = 0;
  /** When the last POLL (first transmission) went out; the next one is due a poll interval later. */
  private lastPollAt = -Infinity;
  private backoffMs: number;
  private queue: QueuedCommand[] = [];
  private secureOpts: SecureOptions | undefined;
  private channel: SecureChannel | undefined;
  private plaintextFallback = false;
  private useScbkD = false;
  private hs: { rndA: Buffer; rndB?: Buffer; keys?: SessionKeys } | undefined;

  constructor(options: SessionOptions, now: number) {
    this.address = options.address;
    this.baudRate = options.baudRate;
    this.replyTimeoutMs = options.replyTimeoutMs ?? 200;
    this.offlineAfterMs = options.offlineAfterMs ?? 8000;
    this.backoffInitialMs = options.backoffInitialMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 8000;
    this.backoffMs = this.backoffInitialMs;
    this.maxQueue = options.maxQueue ?? 16;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.random = options.random ?? randomBytes;
    this.secureOpts = options.secure;
    this.lastHeardAt = now;
  }

  on(listener: (e: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(e: SessionEvent): void {
    for (const l of this.listeners) l(e);
  }

  state(): ReaderState {
    return this.stateValue;
  }

  currentPhase(): Phase {
    return this.phase;
  }

  isSecure(): boolean {
    return this.channel !== undefined;
  }

  awaiting(): boolean {
    return this.pending !== undefined && !this.resend;
  }

  deadline(): number | undefined {
    return this.awaiting() ? this.pending!.deadline : undefined;
  }

  /** True when the reader may take the line now (not waiting for a reply, not backing off). */
  ready(now: number): boolean {
    return !this.awaiting() && now >= this.nextAttemptAt;
  }

  /**
   * Earliest monotonic time the reader wants the line (Infinity while a reply is awaited).
   * Anything but a routine POLL — a handshake step, a queued command, a retransmission, a probe —
   * is due as soon as the reader may take the line; a POLL only a poll interval after the previous
   * one, as libosdp does (OSDP_PD_POLL_TIMEOUT_MS), so an idle line is not polled flat out.
   */
  dueAt(): number {
    if (this.awaiting()) return Infinity;
    const onlyPoll = this.phase === 'ready' && this.pending === undefined && this.queue.length === 0;
    return onlyPoll ? Math.max(this.nextAttemptAt, this.lastPollAt + this.pollIntervalMs) : this.nextAttemptAt;
  }

  /** Queues a command for the reader's next poll slots, ahead of POLL. Dropped when the reader is not online. */
  enqueue(cmd: QueuedCommand): boolean {
    if (this.stateValue !== 'online') return false;
    this.queue.push(cmd);
    while (this.queue.length > this.maxQueue) {
      const dropped = this.queue.shift()!;
      this.emit({ type: 'command_done', command: commandName(dropped.code), ok: false, reason: 'queue_full' });
    }
    return true;
  }

  queued(): number {
    return this.queue.length;
  }

  /** True when the next message would be a queued command sent for the first time (not a retransmission). */
  hasFreshCommand(now: number): boolean {
    return this.queue.length > 0 && this.pending === undefined && this.phase === 'ready' && now >= this.nextAttemptAt;
  }

  secureConfigured(): boolean {
    return this.secureOpts !== undefined && !this.plaintextFallback;
  }

  /** The bytes for this reader's slot (undefined: nothing to send after all). Call only when `ready(now)`. */
  nextMessage(now: number): Buffer | undefined {
    if (this.pending && this.resend) {
      // Retransmission: same bytes, same sequence number (OSDP 2.2 §5.7).
      this.resend = false;
      this.pending.sentAt = now;
      this.pending.deadline = now + this.replyTimeoutMs + wireTimeMs(this.pending.bytes.length, this.baudRate);
      return this.pending.bytes;
    }
    let out: Outgoing;
    if (this.phase === 'ready') {
      const queued = this.queue.shift();
      out = queued ? { code: queued.code, data: queued.data, queued } : { code: CMD.POLL };
      if (!queued) this.lastPollAt = now;
    } else {
      try {
        out = PHASES[this.phase].send(this);
      } catch (err) {
        // Only KEYSET can fail here: the new key could not be saved, so it must not be sent.
        this.emit({ type: 'error', code: 'GH_OSDP_KEY', reason: 'key_not_saved', detail: (err as Error).message });
        this.failHandshake(now, `new key not saved: ${(err as Error).message}`);
        return undefined;
      }
    }
    const bytes =
      this.channel && !out.scb
        ? this.channel.seal({ address: this.address, sequence: this.sequence, code: out.code, data: out.data })
        : encodeFrame({ address: this.address, sequence: this.sequence, code: out.code, data: out.data, scb: out.scb });
    this.pending = { bytes, code: out.code, sequence: this.sequence, sentAt: now, deadline: now + this.replyTimeoutMs + wireTimeMs(bytes.length, this.baudRate) };
    if (out.queued) this.pending.queued = out.queued;
    return bytes;
  }

  /** A long reply is arriving: wait for its wire time as well (bounded by its declared length). */
  extendForIncoming(declaredLength: number): void {
    if (!this.pending) return;
    const bound = this.pending.sentAt + this.replyTimeoutMs + wireTimeMs(this.pending.bytes.length + declaredLength, this.baudRate);
    this.pending.deadline = Math.max(this.pending.deadline, bound);
  }

  /** Checks the reply deadline: a timeout retransmits, long silence takes the reader offline. */
  tick(now: number): void {
    if (!this.pending || this.resend || now < this.pending.deadline) return;
    const code = this.pending.code;
    this.emit({ type: 'error', code: 'GH_OSDP_TIMEOUT', reason: 'no_reply', detail: `no reply to ${commandName(code)} within ${Math.round(this.pending.deadline - this.pending.sentAt)} ms` });
    if (this.stateValue === 'offline') {
      // Probing an offline reader: no retransmit loop; start again from ID after the backoff.
      this.channel = undefined;
      this.phase = 'id';
      this.scheduleProbe(now);
      return;
    }
    if (now - this.lastHeardAt >= this.offlineAfterMs) {
      this.goOffline(now, 'no reply for ' + Math.round((now - this.lastHeardAt) / 1000) + ' s', 'GH_OSDP_TIMEOUT');
      return;
    }
    // One missed reply is retransmitted at once: a frame lost to noise is common on RS-485. A reader
    // that keeps missing is suspect: its retransmissions are spaced at a growing interval until it
    // answers or goes offline, so the reply timeout it costs the other readers on its line comes at
    // most that often instead of at every turn (a silent reader used to take ~35 slots of 200 ms
    // before the 8 s offline threshold; now about 8).
    this.missed++;
    if (this.missed >= 2) this.nextAttemptAt = now + Math.min(SUSPECT_RETRY_MAX_MS, SUSPECT_RETRY_MS * 2 ** (this.missed - 2));
    this.resend = true;
  }

  /** A frame from the bus addressed to this reader. */
  handleFrame(frame: OsdpFrame, now: number): void {
    const pending = this.pending;
    if (!pending || this.resend) {
      this.emit({ type: 'error', code: 'GH_OSDP_SEQUENCE', reason: 'unsolicited', detail: `reply ${replyName(frame.code)} while no command was outstanding` });
      return;
    }
    if (frame.sequence !== pending.sequence) {
      this.emit({ type: 'error', code: 'GH_OSDP_SEQUENCE', reason: 'wrong_sequence', detail: `reply sequence ${frame.sequence}, expected ${pending.sequence}` });
      return;
    }
    let data = frame.data;
    if (this.channel) {
      if (!frame.scb && frame.code === REPLY.NAK) {
        // A PD that lost the channel (MAC error, power cycle) answers NAK in plain text: re-establish.
        this.lastHeardAt = now;
        this.emit({ type: 'error', code: 'GH_OSDP_SECURE_CHANNEL', reason: 'pd_dropped_channel', detail: `plain NAK ${frame.data[0] ?? ''} while the secure channel was up` });
        this.restartHandshake(now);
        return;
      }
      if (!frame.scb && frame.code === REPLY.BUSY && frame.data.length === 0) {
        // BUSY carries nothing and the PD sends it before processing (so without a MAC): repeat later.
        this.lastHeardAt = now;
        this.resend = true;
        return;
      }
      const opened = this.channel.open(frame);
      if (!opened.ok) {
        this.emit({ type: 'error', code: 'GH_OSDP_SECURE_CHANNEL', reason: opened.reason, detail: `reply ${replyName(frame.code)} rejected: ${opened.reason}` });
        // A forged or replayed reply is ignored; the timeout retransmits and the MAC chain decides.
        if (opened.reason !== 'bad_mac') this.restartHandshake(now);
        return;
      }
      data = opened.data;
    } else if (frame.scb && frame.scb.type !== SCS.CCRYPT && frame.scb.type !== SCS.RMAC_I) {
      this.emit({ type: 'error', code: 'GH_OSDP_SECURE_CHANNEL', reason: 'unexpected_security_block', detail: `security block 0x${frame.scb.type.toString(16)} with no channel up` });
      return;
    }
    const reply = decodeReply(frame.code, data);
    if (isReplyError(reply)) {
      this.emit({ type: 'error', code: 'GH_OSDP_BAD_FRAME', reason: 'bad_reply_body', detail: reply.error });
      return;
    }
    this.lastHeardAt = now;
    this.missed = 0;
    this.backoffMs = this.backoffInitialMs;
    if (reply.name === 'BUSY') {
      // OSDP 2.2 §7.15: the PD is busy; repeat the same command with the same sequence number.
      this.resend = true;
      return;
    }
    if (reply.name === 'NAK' && 'code' in reply) {
      this.handleNak(reply.code, reply.reason, now);
      return;
    }
    this.pending = undefined;
    this.sequence = nextSequence(this.sequence);
    if (this.phase === 'ready') {
      if (this.stateValue !== 'online') this.setState('online');
      if (pending.queued) this.emit({ type: 'command_done', command: commandName(pending.code), ok: true });
      const handler = READY_HANDLERS[frame.code];
      if (handler) handler(this, reply);
      else this.emit({ type: 'error', code: 'GH_OSDP_BAD_FRAME', reason: 'unexpected_reply', detail: `reply ${replyName(frame.code)} to ${commandName(pending.code)} is not handled` });
      return;
    }
    const spec = PHASES[this.phase];
    if (frame.code !== spec.expect) {
      this.emit({ type: 'error', code: 'GH_OSDP_BAD_FRAME', reason: 'unexpected_reply', detail: `expected ${replyName(spec.expect)} to ${commandName(pending.code)}, got ${replyName(frame.code)}` });
      if (this.phase === 'chlng' || this.phase === 'scrypt' || this.phase === 'keyset') this.failHandshake(now, `unexpected ${replyName(frame.code)} during the handshake`);
      return;
    }
    const next = spec.accept(this, reply, now);
    if (typeof next === 'object') {
      this.failHandshake(now, next.fail);
      return;
    }
    this.phase = next;
    if (next === 'ready') this.setState('online');
  }

  private handleNak(code: number, reason: string, now: number): void {
    const pending = this.pending!;
    this.emit({ type: 'error', code: 'GH_OSDP_NAK', reason, detail: `NAK ${code} (${reason}) to ${commandName(pending.code)}` });
    if (code === 1) {
      // The PD saw a corrupt frame: send it again unchanged.
      this.resend = true;
      return;
    }
    this.pending = undefined;
    if (code === 4) {
      // Sequence lost on the PD side: start over from sequence 0.
      this.resetLink(now);
      return;
    }
    this.sequence = nextSequence(this.sequence);
    if (this.phase === 'chlng' || this.phase === 'scrypt' || this.phase === 'keyset') {
      this.failHandshake(now, `NAK ${code} (${reason}) to ${commandName(pending.code)}`);
      return;
    }
    if ((code === 5 || code === 6) && this.phase === 'ready') {
      if (this.secureConfigured()) this.restartHandshake(now);
      else this.goOffline(now, 'the reader requires a secure channel and none is configured', 'GH_OSDP_SECURE_CHANNEL');
      return;
    }
    if (pending.queued) this.emit({ type: 'command_done', command: commandName(pending.code), ok: false, reason });
  }

  // --- phase helpers (called from the PHASES table) ---

  identity(r: Reply): void {
    this.emit({ type: 'identity', reply: r });
  }

  challenge(): Outgoing {
    const s = this.secureOpts!;
    this.useScbkD = s.scbk === undefined ? true : this.useScbkD && s.install;
    this.hs = { rndA: this.random(8) };
    return { code: CMD.CHLNG, data: this.hs.rndA, scb: { type: SCS.CHLNG, data: Buffer.from([this.useScbkD ? KEY_SCBK_D : KEY_SCBK]) } };
  }

  checkCcrypt(r: Reply): Phase | { fail: string } {
    if (r.name !== 'CCRYPT' || !('clientCryptogram' in r) || !this.hs) return { fail: 'malformed CCRYPT' };
    const scbk = this.useScbkD ? SCBK_D : this.secureOpts!.scbk!;
    const keys = deriveSessionKeys(scbk, this.hs.rndA);
    if (!sameBytes(clientCryptogram(keys, this.hs.rndA, r.rndB), r.clientCryptogram)) return { fail: `client cryptogram mismatch (wrong ${this.useScbkD ? 'SCBK-D' : 'SCBK'}?)` };
    this.hs.rndB = r.rndB;
    this.hs.keys = keys;
    return 'scrypt';
  }

  scrypt(): Outgoing {
    const hs = this.hs!;
    return { code: CMD.SCRYPT, data: serverCryptogram(hs.keys!, hs.rndA, hs.rndB!), scb: { type: SCS.SCRYPT, data: Buffer.from([this.useScbkD ? KEY_SCBK_D : KEY_SCBK]) } };
  }

  checkRmacI(r: Reply, _now: number): Phase | { fail: string } {
    if (r.name !== 'RMAC_I' || !('rmac' in r) || !this.hs?.keys) return { fail: 'malformed RMAC_I' };
    const hs = this.hs;
    const keys = hs.keys!;
    const expected = initialRmac(keys, serverCryptogram(keys, hs.rndA, hs.rndB!));
    if (!sameBytes(expected, r.rmac)) return { fail: 'initial R-MAC mismatch' };
    this.channel = new SecureChannel('cp', keys, r.rmac);
    if (this.useScbkD) return this.secureOpts!.install ? 'keyset' : { fail: 'SCBK-D accepted but install mode is off' };
    return 'ready';
  }

  keyset(): Outgoing {
    const key = this.random(16);
    // Saved (and used from now on as "the" key) before the reader sees it: if the ACK is lost
    // the reader may hold it already, and the SCBK <-> SCBK-D alternation finds which one works.
    this.secureOpts!.saveKey?.(key);
    this.secureOpts!.scbk = key;
    return { code: CMD.KEYSET, data: encodeKeyset(key) };
  }

  keysetDone(): Phase {
    this.useScbkD = false;
    this.channel = undefined;
    this.emit({ type: 'keyset', ok: true });
    return 'chlng';
  }

  // --- transitions ---

  private failHandshake(now: number, reason: string): void {
    this.channel = undefined;
    this.pending = undefined;
    this.emit({ type: 'error', code: 'GH_OSDP_SECURE_CHANNEL', reason: 'handshake_failed', detail: reason });
    const s = this.secureOpts!;
    if (this.phase === 'keyset') this.emit({ type: 'keyset', ok: false });
    if (s.allowPlaintext) {
      // Configured to carry on without encryption: allowed, but said out loud every time.
      this.plaintextFallback = true;
      this.phase = 'ready';
      this.emit({ type: 'plaintext_fallback', reason });
      this.setState('online');
      return;
    }
    // With install mode, a failing SCBK may be because KEYSET never reached the reader: try SCBK-D next.
    if (s.install && s.scbk !== undefined) this.useScbkD = !this.useScbkD;
    this.phase = 'chlng';
    if (this.stateValue !== 'offline') this.setState('offline', `secure channel failed: ${reason}`, 'GH_OSDP_SECURE_CHANNEL');
    this.scheduleProbe(now);
  }

  private restartHandshake(now: number): void {
    this.channel = undefined;
    this.pending = undefined;
    this.resend = false;
    this.queue = [];
    this.phase = 'chlng';
    this.nextAttemptAt = now;
  }

  private resetLink(now: number): void {
    this.channel = undefined;
    this.pending = undefined;
    this.resend = false;
    this.sequence = 0;
    this.phase = 'id';
    this.nextAttemptAt = now;
  }

  private goOffline(now: number, reason: string, code: ErrorCode): void {
    this.resetLink(now);
    this.missed = 0;
    this.plaintextFallback = false;
    this.queue = [];
    this.backoffMs = this.backoffInitialMs;
    this.setState('offline', reason, code);
    this.scheduleProbe(now);
  }

  private scheduleProbe(now: number): void {
    this.nextAttemptAt = now + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMaxMs, this.backoffMs * 2);
    this.pending = undefined;
    this.resend = false;
    if (this.phase === 'id') this.sequence = 0;
  }

  private setState(state: ReaderState, reason?: string, code?: ErrorCode): void {
    this.stateValue = state;
    if (state !== 'online') this.queue = [];
    const e: SessionEvent = { type: 'state', state, secure: this.channel !== undefined };
    if (reason !== undefined) e.reason = reason;
    if (code !== undefined) e.code = code;
    this.emit(e);
  }
}

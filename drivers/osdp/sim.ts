import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { wireTimeMs, type Transport } from '../serial/transport.js';
import { BROADCAST, crc16, decodeFrames, encodeFrame, type OsdpFrame } from './frame.js';
import { CMD, decodeCommand } from './commands.js';
import { REPLY, encodeCom, encodeKeypad, encodeLstatr, encodeNak, encodePdcap, encodePdid, encodeRaw } from './replies.js';
import {
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
 * A simulated OSDP reader bus: the PD side of the protocol for one or more
 * addresses sharing one line (a socat PTY in tests and the demo). It paces
 * its replies at the line's baud rate, since a PTY carries bytes instantly.
 */

export interface SimReaderOptions {
  address: number;
  /** The reader's SCBK (secure channel with the installed key). */
  scbk?: Buffer;
  /** Accepts a handshake with SCBK-D (a reader fresh from the factory, waiting for KEYSET). */
  installMode?: boolean;
  /** Refuses plain-text commands other than ID/CAP with NAK 6 (secure channel required). */
  requireSecure?: boolean;
  serial?: number;
}

export interface SimOptions {
  transport: Transport;
  baudRate: number;
  readers: SimReaderOptions[];
  /** Pace writes at the baud rate (default true). */
  pace?: boolean;
}

export interface SimFeedback {
  address: number;
  command: 'LED' | 'BUZ' | 'OUT' | 'TEXT';
  detail: Record<string, unknown>;
  /** performance.now() when the command arrived. */
  at: number;
}

interface PdState {
  opts: SimReaderOptions;
  scbk: Buffer | undefined;
  lastSeq: number;
  lastCommand?: Buffer;
  lastReply?: Buffer;
  cards: string[];
  keypad: string[];
  tamper: boolean;
  tamperReported: boolean;
  silent: boolean;
  busy: number;
  corrupt: Array<'crc' | 'mac' | 'sequence' | 'address'>;
  hs?: { keys: SessionKeys; rndA: Buffer; rndB: Buffer; useScbkD: boolean };
  channel?: SecureChannel;
}

export class OsdpSimulator extends EventEmitter {
  private readonly pds = new Map<number, PdState>();
  private rx: Buffer = Buffer.alloc(0);
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Commands seen per address (tests, benchmark polls_per_s). */
  readonly received = new Map<number, number>();

  constructor(private readonly options: SimOptions) {
    super();
    for (const r of options.readers) {
      this.pds.set(r.address, { opts: r, scbk: r.scbk, lastSeq: -1, cards: [], keypad: [], tamper: false, tamperReported: false, silent: false, busy: 0, corrupt: [] });
    }
    options.transport.onData((chunk) => this.onData(chunk));
  }

  private pd(address: number): PdState {
    const pd = this.pds.get(address);
    if (!pd) throw new RangeError(`no simulated reader at address ${address}`);
    return pd;
  }

  /** Presents a card: `bits` first bit on the wire first; delivered as RAW in reply to the next POLL. */
  presentCard(address: number, bits: string): void {
    this.pd(address).cards.push(bits);
  }

  presentKeypad(address: number, digits: string): void {
    this.pd(address).keypad.push(digits);
  }

  setTamper(address: number, tamper: boolean): void {
    const pd = this.pd(address);
    pd.tamper = tamper;
  }

  /** A silent reader never answers (unplugged, wrong address, dead). */
  setSilent(address: number, silent: boolean): void {
    this.pd(address).silent = silent;
  }

  /** Answers the next `count` commands with BUSY. */
  setBusy(address: number, count: number): void {
    this.pd(address).busy = count;
  }

  /** Spoils the next reply of `address`: bad CRC, bad MAC, wrong sequence or wrong address. */
  corruptNext(address: number, kind: 'crc' | 'mac' | 'sequence' | 'address'): void {
    this.pd(address).corrupt.push(kind);
  }

  /** The SCBK the reader holds now (after a KEYSET). */
  key(address: number): Buffer | undefined {
    return this.pd(address).scbk;
  }

  isSecure(address: number): boolean {
    return this.pd(address).channel !== undefined;
  }

  /** Writes raw bytes on the line (garbage, floods), paced like a reply. */
  inject(bytes: Buffer): Promise<void> {
    return this.write(bytes);
  }

  close(): void {
    this.closed = true;
  }

  private write(bytes: Buffer): Promise<void> {
    const run = async () => {
      if (this.closed) return;
      if (this.options.pace !== false) await sleep(wireTimeMs(bytes.length, this.options.baudRate));
      if (this.closed) return;
      await this.options.transport.write(bytes).catch(() => undefined);
    };
    this.chain = this.chain.then(run);
    return this.chain;
  }

  private onData(chunk: Buffer): void {
    const { frames, rest } = decodeFrames(this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk);
    this.rx = rest;
    for (const f of frames) {
      if (f.reply) continue;
      const targets = f.address === BROADCAST ? [...this.pds.values()] : this.pds.has(f.address) ? [this.pd(f.address)] : [];
      for (const pd of targets) this.handle(pd, f);
    }
  }

  private handle(pd: PdState, f: OsdpFrame): void {
    const address = pd.opts.address;
    this.received.set(address, (this.received.get(address) ?? 0) + 1);
    if (pd.silent) return;
    // OSDP 2.2 §5.7: a repeated sequence number is a retransmission: repeat the last reply.
    if (f.sequence !== 0 && f.sequence === pd.lastSeq && pd.lastCommand && sameBytes(pd.lastCommand, f.raw) && pd.lastReply) {
      void this.write(pd.lastReply);
      return;
    }
    if (f.sequence === 0) {
      pd.channel = undefined;
      pd.hs = undefined;
    } else if (pd.lastSeq >= 0 && f.sequence !== (pd.lastSeq % 3) + 1) {
      this.reply(pd, f, REPLY.NAK, encodeNak(4), false);
      return;
    }
    if (pd.busy > 0) {
      pd.busy--;
      void this.write(encodeFrame({ address, reply: true, sequence: f.sequence, code: REPLY.BUSY }));
      return;
    }
    pd.lastSeq = f.sequence;
    pd.lastCommand = Buffer.from(f.raw);
    if (f.scb && (f.scb.type === SCS.CHLNG || f.scb.type === SCS.SCRYPT)) {
      this.handshake(pd, f);
      return;
    }
    let data = f.data;
    let secure = false;
    if (f.scb) {
      const opened = pd.channel?.open(f);
      if (!opened || !opened.ok) {
        pd.channel = undefined;
        this.reply(pd, f, REPLY.NAK, encodeNak(6), false);
        return;
      }
      data = opened.data;
      secure = true;
    } else if (pd.opts.requireSecure && f.code !== CMD.ID && f.code !== CMD.CAP) {
      this.reply(pd, f, REPLY.NAK, encodeNak(6), false);
      return;
    }
    const [code, body] = this.command(pd, f.code, data, secure);
    this.reply(pd, f, code, body, secure);
  }

  private handshake(pd: PdState, f: OsdpFrame): void {
    pd.channel = undefined;
    if (f.scb!.type === SCS.CHLNG) {
      const useScbkD = f.scb!.data[0] === KEY_SCBK_D;
      const key = useScbkD ? (pd.opts.installMode ? SCBK_D : undefined) : pd.scbk;
      if (!key || f.data.length !== 8) {
        this.reply(pd, f, REPLY.NAK, encodeNak(6), false);
        return;
      }
      const rndA = Buffer.from(f.data);
      const rndB = randomBytes(8);
      const keys = deriveSessionKeys(key, rndA);
      pd.hs = { keys, rndA, rndB, useScbkD };
      const cuid = Buffer.alloc(8);
      cuid.writeUInt32LE(pd.opts.serial ?? 0x1000 + pd.opts.address, 4);
      this.send(pd, encodeFrame({ address: pd.opts.address, reply: true, sequence: f.sequence, scb: { type: SCS.CCRYPT, data: f.scb!.data }, code: REPLY.CCRYPT, data: Buffer.concat([cuid, rndB, clientCryptogram(keys, rndA, rndB)]) }));
      return;
    }
    const hs = pd.hs;
    if (!hs || f.data.length !== 16 || !sameBytes(serverCryptogram(hs.keys, hs.rndA, hs.rndB), f.data)) {
      this.reply(pd, f, REPLY.NAK, encodeNak(6), false);
      return;
    }
    const rmacI = initialRmac(hs.keys, f.data);
    pd.channel = new SecureChannel('pd', hs.keys, rmacI);
    this.send(pd, encodeFrame({ address: pd.opts.address, reply: true, sequence: f.sequence, scb: { type: SCS.RMAC_I, data: Buffer.from([0x01]) }, code: REPLY.RMAC_I, data: rmacI }));
  }

  /** One small handler per command; returns the reply code and data. */
  private command(pd: PdState, code: number, data: Buffer, secure: boolean): [number, Buffer] {
    const address = pd.opts.address;
    const decoded = decodeCommand(code, data);
    if ('error' in decoded) return [REPLY.NAK, encodeNak(2)];
    const at = performance.now();
    const feedback = (command: SimFeedback['command'], detail: Record<string, unknown>) => this.emit('feedback', { address, command, detail, at } satisfies SimFeedback);
    switch (code) {
      case CMD.POLL: {
        const card = pd.cards.shift();
        if (card !== undefined) return [REPLY.RAW, encodeRaw(0, card)];
        const digits = pd.keypad.shift();
        if (digits !== undefined) return [REPLY.KEYPAD, encodeKeypad(0, digits)];
        if (pd.tamper !== pd.tamperReported) {
          pd.tamperReported = pd.tamper;
          return [REPLY.LSTATR, encodeLstatr(pd.tamper, false)];
        }
        return [REPLY.ACK, Buffer.alloc(0)];
      }
      case CMD.ID:
        return [REPLY.PDID, encodePdid({ vendor: 0x0a0b0c, model: 1, version: 1, serial: pd.opts.serial ?? 0x1000 + address, firmware: [1, 0, 0] })];
      case CMD.CAP:
        // OSDP 2.2 Table 5 function codes: card data format (3), LED (4), audible (5), text (6), CRC (8), AES-128 secure channel (9).
        return [REPLY.PDCAP, encodePdcap([[3, 1, 0], [4, 1, 1], [5, 1, 1], [6, 1, 1], [8, 1, 0], [9, 1, 1]])];
      case CMD.LSTAT:
        pd.tamperReported = pd.tamper;
        return [REPLY.LSTATR, encodeLstatr(pd.tamper, false)];
      case CMD.ISTAT:
        return [REPLY.ISTATR, Buffer.from([0])];
      case CMD.OSTAT:
        return [REPLY.OSTATR, Buffer.from([0])];
      case CMD.LED:
      case CMD.BUZ:
      case CMD.OUT:
      case CMD.TEXT:
        feedback(decoded.name as SimFeedback['command'], decoded as unknown as Record<string, unknown>);
        return [REPLY.ACK, Buffer.alloc(0)];
      case CMD.COMSET:
        return [REPLY.COM, encodeCom(address, data.readUInt32LE(1))];
      case CMD.KEYSET:
        // A key is only ever accepted over an established secure channel (OSDP 2.2 §6.16).
        if (!secure) return [REPLY.NAK, encodeNak(6)];
        pd.scbk = Buffer.from(data.subarray(2));
        this.emit('keyset', { address });
        return [REPLY.ACK, Buffer.alloc(0)];
      default:
        return [REPLY.NAK, encodeNak(3)];
    }
  }

  private reply(pd: PdState, f: OsdpFrame, code: number, data: Buffer, secure: boolean): void {
    const address = pd.opts.address;
    const good = secure && pd.channel ? pd.channel.seal({ address, sequence: f.sequence, code, data }) : encodeFrame({ address, reply: true, sequence: f.sequence, code, data });
    pd.lastReply = good;
    const fault = pd.corrupt.shift();
    if (!fault) {
      void this.write(good);
      return;
    }
    // Line noise: the reader sent the right reply, the wire spoiled it; a retransmission gets the good copy.
    const bad = Buffer.from(good);
    if (fault === 'crc') bad[bad.length - 1]! ^= 0xff;
    else if (fault === 'mac') bad[bad.length - 3]! ^= 0x01;
    else if (fault === 'sequence') bad[4] = (bad[4]! & ~0x03) | ((f.sequence % 3) + 1);
    else bad[1] = ((address + 1) & 0x7f) | 0x80;
    if (fault !== 'crc') bad.writeUInt16LE(crc16(bad, 0, bad.length - 2), bad.length - 2);
    void this.write(bad);
  }

  private send(pd: PdState, bytes: Buffer): void {
    pd.lastReply = bytes;
    void this.write(bytes);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeFrames, encodeFrame, type OsdpFrame } from './frame.js';
import { CMD } from './commands.js';
import { REPLY, encodePdcap, encodePdid, encodeRaw } from './replies.js';
import { SCBK_D, SCS, SecureChannel, clientCryptogram, deriveSessionKeys, initialRmac, serverCryptogram } from './secure-channel.js';
import { ReaderSession, type SessionEvent, type SessionOptions } from './session.js';

const one = (b: Buffer): OsdpFrame => decodeFrames(b).frames[0]!;
const PDID = encodePdid({ vendor: 1, model: 2, version: 3, serial: 4, firmware: [1, 2, 3] });
const PDCAP = encodePdcap([[1, 1, 0]]);

/** A session with an injected clock `t` (ms) and every event recorded. */
function make(options: Partial<SessionOptions> = {}) {
  const events: SessionEvent[] = [];
  let t = 1000;
  const s = new ReaderSession({ address: 5, baudRate: 115200, random: (n) => Buffer.alloc(n, 0x5a), ...options }, t);
  s.on((e) => events.push(e));
  return {
    s,
    events,
    now: () => t,
    advance(ms: number) {
      t += ms;
      s.tick(t);
    },
    send(): OsdpFrame {
      expect(s.ready(t)).toBe(true);
      return one(s.nextMessage(t)!);
    },
    reply(cmd: OsdpFrame, code: number, data: Buffer = Buffer.alloc(0), over: Partial<{ sequence: number; address: number }> = {}) {
      s.handleFrame(one(encodeFrame({ address: over.address ?? 5, reply: true, sequence: over.sequence ?? cmd.sequence, code, data })), t);
    },
    errors: (code?: string) => events.filter((e): e is Extract<SessionEvent, { type: 'error' }> => e.type === 'error' && (code === undefined || e.code === code)),
    states: () => events.filter((e): e is Extract<SessionEvent, { type: 'state' }> => e.type === 'state').map((e) => e.state),
  };
}

function bringOnline(h: ReturnType<typeof make>): void {
  h.reply(h.send(), REPLY.PDID, PDID);
  h.reply(h.send(), REPLY.PDCAP, PDCAP);
}

describe('ReaderSession: plain text', () => {
  it('starts with ID at sequence 0, then CAP, then polls with sequence 1,2,3,1 (0 only resets)', () => {
    const h = make();
    const id = h.send();
    expect([id.code, id.sequence, id.address]).toEqual([CMD.ID, 0, 5]);
    h.reply(id, REPLY.PDID, PDID);
    const cap = h.send();
    expect([cap.code, cap.sequence]).toEqual([CMD.CAP, 1]);
    h.reply(cap, REPLY.PDCAP, PDCAP);
    expect(h.states()).toEqual(['online']);
    const seqs = [];
    for (let i = 0; i < 4; i++) {
      const p = h.send();
      expect(p.code).toBe(CMD.POLL);
      seqs.push(p.sequence);
      h.reply(p, REPLY.ACK);
    }
    expect(seqs).toEqual([2, 3, 1, 2]);
    expect(h.events.filter((e) => e.type === 'identity')).toHaveLength(2);
  });

  it('retransmits the same bytes with the same sequence after the reply timeout (200 ms + wire time)', () => {
    const h = make();
    const first = h.s.nextMessage(h.now());
    h.advance(199);
    expect(h.s.awaiting()).toBe(true);
    h.advance(2);
    expect(h.errors('GH_OSDP_TIMEOUT')).toHaveLength(1);
    expect(h.s.ready(h.now())).toBe(true);
    expect(h.s.nextMessage(h.now())!.equals(first!)).toBe(true);
  });

  it('spaces retransmissions to a reader that keeps missing replies (250, 500, 1,000 ms), and polls at once again when it answers', () => {
    const h = make();
    bringOnline(h);
    const sentAt: number[] = [];
    while (sentAt.length < 6) {
      if (h.s.ready(h.now())) {
        h.s.nextMessage(h.now());
        sentAt.push(h.now());
      }
      h.advance(10);
    }
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    // Each gap is the 200 ms reply timeout (+ wire time, + the 10 ms step), then the spacing.
    expect(gaps.map((g) => Math.round((g - 200) / 250) * 250)).toEqual([0, 250, 500, 1000, 1000]);
    // It answers the retransmission: the next POLL is a poll interval away, not a suspect's wait.
    while (!h.s.ready(h.now())) h.advance(10);
    h.reply(h.send(), REPLY.ACK);
    h.advance(50);
    expect(h.s.ready(h.now())).toBe(true);
    expect(h.s.dueAt()).toBeLessThanOrEqual(h.now());
  });

  it('adds the wire time of the command to the timeout (9600 baud)', () => {
    const h = make({ baudRate: 9600 });
    h.s.nextMessage(h.now()); // 9 bytes = 9.4 ms at 9600
    h.advance(205);
    expect(h.s.awaiting()).toBe(true);
    h.advance(5);
    expect(h.s.awaiting()).toBe(false);
  });

  it('waits for the wire time of a long reply that is arriving', () => {
    const h = make({ baudRate: 9600 });
    h.s.nextMessage(h.now());
    h.s.extendForIncoming(200); // 200 bytes at 9600 = 208 ms more
    h.advance(300);
    expect(h.s.awaiting()).toBe(true);
    h.advance(200);
    expect(h.s.awaiting()).toBe(false);
  });

  it('goes offline after 8 s without a valid reply, then probes with ID at sequence 0 with growing backoff, and recovers', () => {
    const h = make();
    bringOnline(h);
    let sent = 0;
    while (h.s.state() === 'online') {
      if (h.s.ready(h.now())) {
        h.s.nextMessage(h.now());
        sent++;
      }
      h.advance(50);
    }
    expect(h.now() - 1000).toBeGreaterThanOrEqual(8000);
    // Suspect after the second miss: retransmissions every 250, 500, then 1,000 ms, not at every turn.
    expect(sent).toBeGreaterThanOrEqual(8);
    expect(sent).toBeLessThanOrEqual(11);
    const offline = h.events.find((e) => e.type === 'state' && e.state === 'offline') as Extract<SessionEvent, { type: 'state' }>;
    expect(offline.code).toBe('GH_OSDP_TIMEOUT');
    expect(h.s.ready(h.now())).toBe(false);
    const gaps: number[] = [];
    let last = h.now();
    for (let probes = 0; probes < 4; ) {
      if (h.s.ready(h.now())) {
        const p = one(h.s.nextMessage(h.now())!);
        expect([p.code, p.sequence]).toEqual([CMD.ID, 0]);
        gaps.push(h.now() - last);
        last = h.now();
        probes++;
      }
      h.advance(10);
    }
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
    expect(gaps[3]!).toBeGreaterThan(gaps[2]!);
    // The reader answers again.
    while (!h.s.ready(h.now())) h.advance(10);
    bringOnline(h);
    expect(h.s.state()).toBe('online');
  });

  it('repeats the command with the same sequence on BUSY, without counting an error', () => {
    const h = make();
    bringOnline(h);
    const p = h.send();
    h.reply(p, REPLY.BUSY);
    const again = h.send();
    expect(again.raw.equals(p.raw)).toBe(true);
    expect(h.errors()).toHaveLength(0);
  });

  it('handles NAKs: 1 resends, 4 restarts from ID at sequence 0, 3 drops the command and reports it', () => {
    const h = make();
    bringOnline(h);
    const p = h.send();
    h.reply(p, REPLY.NAK, Buffer.from([1]));
    expect(h.send().raw.equals(p.raw)).toBe(true);
    h.reply(p, REPLY.NAK, Buffer.from([4]));
    const id = h.send();
    expect([id.code, id.sequence]).toEqual([CMD.ID, 0]);
    h.reply(id, REPLY.PDID, PDID);
    h.reply(h.send(), REPLY.PDCAP, PDCAP);
    h.s.enqueue({ code: CMD.TEXT, data: Buffer.from([0, 1, 0, 0, 0, 0]) });
    const text = h.send();
    expect(text.code).toBe(CMD.TEXT);
    h.reply(text, REPLY.NAK, Buffer.from([3]));
    expect(h.events).toContainEqual({ type: 'command_done', command: 'TEXT', ok: false, reason: 'unknown_command' });
    expect(h.errors('GH_OSDP_NAK')).toHaveLength(3);
    const next = h.send();
    expect([next.code, next.sequence]).toEqual([CMD.POLL, (text.sequence % 3) + 1]);
  });

  it('drops a reply with the wrong sequence number (replay) and keeps waiting', () => {
    const h = make();
    bringOnline(h);
    const p = h.send();
    h.reply(p, REPLY.RAW, encodeRaw(0, '1'.repeat(26)), { sequence: (p.sequence % 3) + 1 });
    expect(h.errors('GH_OSDP_SEQUENCE')).toHaveLength(1);
    expect(h.s.awaiting()).toBe(true);
    expect(h.events.some((e) => e.type === 'card')).toBe(false);
  });

  it('reports unsolicited and malformed replies without acting on them', () => {
    const h = make();
    bringOnline(h);
    h.s.handleFrame(one(encodeFrame({ address: 5, reply: true, sequence: 1, code: REPLY.ACK })), h.now());
    expect(h.errors('GH_OSDP_SEQUENCE')[0]!.reason).toBe('unsolicited');
    const p = h.send();
    h.reply(p, REPLY.RAW, Buffer.from([0, 0, 26, 0, 1])); // says 26 bits, carries 1 byte
    expect(h.errors('GH_OSDP_BAD_FRAME')[0]!.reason).toBe('bad_reply_body');
    h.reply(p, REPLY.CCRYPT, Buffer.alloc(32));
    expect(h.errors('GH_OSDP_BAD_FRAME')[1]!.reason).toBe('unexpected_reply');
  });

  it('reports cards, keypad digits, tamper and inputs from poll replies', () => {
    const h = make();
    bringOnline(h);
    h.reply(h.send(), REPLY.RAW, encodeRaw(0, '10110'));
    h.reply(h.send(), REPLY.KEYPAD, Buffer.from([0, 3, 0x31, 0x7f, 0x0d]));
    h.reply(h.send(), REPLY.LSTATR, Buffer.from([1, 0]));
    h.reply(h.send(), REPLY.ISTATR, Buffer.from([0, 1]));
    expect(h.events).toContainEqual({ type: 'card', reader: 0, format: 0, bits: '10110' });
    expect(h.events).toContainEqual({ type: 'keypad', reader: 0, digits: '1*#' });
    expect(h.events).toContainEqual({ type: 'tamper', tamper: true, powerFailure: false });
    expect(h.events).toContainEqual({ type: 'inputs', states: [0, 1] });
  });

  it('sends queued commands ahead of POLL, keeps the queue bounded and refuses commands while not online', () => {
    const h = make({ maxQueue: 2 });
    expect(h.s.enqueue({ code: CMD.LED, data: Buffer.alloc(14) })).toBe(false);
    bringOnline(h);
    h.s.enqueue({ code: CMD.OUT, data: Buffer.alloc(4) });
    h.s.enqueue({ code: CMD.LED, data: Buffer.alloc(14) });
    h.s.enqueue({ code: CMD.BUZ, data: Buffer.alloc(5) });
    expect(h.s.queued()).toBe(2);
    expect(h.events).toContainEqual({ type: 'command_done', command: 'OUT', ok: false, reason: 'queue_full' });
    const a = h.send();
    h.reply(a, REPLY.ACK);
    const b = h.send();
    h.reply(b, REPLY.ACK);
    expect([a.code, b.code, h.send().code]).toEqual([CMD.LED, CMD.BUZ, CMD.POLL]);
  });

  it('is due for a POLL one poll interval after the last one, and at once for anything else', () => {
    const h = make({ pollIntervalMs: 50 });
    // Handshake steps (ID, CAP) do not wait for the interval.
    expect(h.s.dueAt()).toBeLessThanOrEqual(h.now());
    h.reply(h.send(), REPLY.PDID, PDID);
    expect(h.s.dueAt()).toBeLessThanOrEqual(h.now());
    h.reply(h.send(), REPLY.PDCAP, PDCAP);
    const poll = h.send();
    expect(h.s.dueAt()).toBe(Infinity);
    h.advance(3);
    h.reply(poll, REPLY.ACK);
    expect(h.s.dueAt()).toBe(h.now() - 3 + 50);
    // A queued command is due now, however recent the last poll.
    h.s.enqueue({ code: CMD.LED, data: Buffer.alloc(14) });
    expect(h.s.dueAt()).toBeLessThanOrEqual(h.now());
    h.reply(h.send(), REPLY.ACK);
    expect(h.s.dueAt()).toBe(h.now() - 3 + 50);
    // So is a retransmission after a timeout.
    h.advance(50);
    const again = h.send();
    expect(again.code).toBe(CMD.POLL);
    h.advance(250);
    expect(h.s.dueAt()).toBeLessThanOrEqual(h.now());
  });

  it('never throws on arbitrary frames, whatever its phase', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ code: fc.integer({ min: 0, max: 255 }), sequence: fc.integer({ min: 0, max: 3 }), data: fc.uint8Array({ maxLength: 40 }), scb: fc.option(fc.integer({ min: 0x11, max: 0x18 }), { nil: undefined }), wait: fc.integer({ min: 0, max: 400 }) }), { maxLength: 30 }),
        (steps) => {
          const h = make({ secure: { scbk: Buffer.alloc(16, 1), install: true, allowPlaintext: false } });
          for (const st of steps) {
            if (h.s.ready(h.now())) h.s.nextMessage(h.now());
            const frame = encodeFrame({ address: 5, reply: true, sequence: st.sequence, code: st.code, data: Buffer.from(st.data), ...(st.scb ? { scb: { type: st.scb, data: Buffer.from([1]) }, mac: () => Buffer.alloc(16) } : {}) });
            h.s.handleFrame(one(frame), h.now());
            h.advance(st.wait);
          }
        },
      ),
    );
  });
});

/** The PD end of the handshake, written from Annex D for these tests. */
function pdAnswer(scbk: Buffer, h: ReturnType<typeof make>, state: { channel?: SecureChannel; keys?: ReturnType<typeof deriveSessionKeys>; rndA?: Buffer; rndB?: Buffer }, cmd: OsdpFrame) {
  if (cmd.code === CMD.CHLNG) {
    state.rndA = Buffer.from(cmd.data);
    state.rndB = Buffer.alloc(8, 0x42);
    state.keys = deriveSessionKeys(scbk, state.rndA);
    h.s.handleFrame(one(encodeFrame({ address: 5, reply: true, sequence: cmd.sequence, scb: { type: SCS.CCRYPT, data: cmd.scb!.data }, code: REPLY.CCRYPT, data: Buffer.concat([Buffer.alloc(8), state.rndB, clientCryptogram(state.keys, state.rndA, state.rndB)]) })), h.now());
    return;
  }
  if (cmd.code === CMD.SCRYPT) {
    expect(cmd.data.equals(serverCryptogram(state.keys!, state.rndA!, state.rndB!))).toBe(true);
    const rmac = initialRmac(state.keys!, cmd.data);
    state.channel = new SecureChannel('pd', state.keys!, rmac);
    h.s.handleFrame(one(encodeFrame({ address: 5, reply: true, sequence: cmd.sequence, scb: { type: SCS.RMAC_I, data: Buffer.from([1]) }, code: REPLY.RMAC_I, data: rmac })), h.now());
  }
}

describe('ReaderSession: secure channel', () => {
  const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

  function secureOnline(h: ReturnType<typeof make>, scbk: Buffer) {
    bringOnline(h);
    const state: Parameters<typeof pdAnswer>[2] = {};
    const chlng = h.send();
    expect(chlng.scb).toMatchObject({ type: SCS.CHLNG });
    pdAnswer(scbk, h, state, chlng);
    pdAnswer(scbk, h, state, h.send());
    return state;
  }

  it('runs CHLNG/CCRYPT/SCRYPT/RMAC_I, then MACs every poll and decrypts card data', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    const st = secureOnline(h, KEY);
    expect(h.s.state()).toBe('online');
    expect(h.s.isSecure()).toBe(true);
    const poll = h.send();
    expect(poll.scb!.type).toBe(SCS.CMD_MAC);
    expect(st.channel!.open(poll).ok).toBe(true);
    h.s.handleFrame(one(st.channel!.seal({ address: 5, sequence: poll.sequence, code: REPLY.RAW, data: encodeRaw(0, '0101') })), h.now());
    expect(h.events).toContainEqual({ type: 'card', reader: 0, format: 0, bits: '0101' });
    h.s.enqueue({ code: CMD.LED, data: Buffer.alloc(14, 1) });
    const led = h.send();
    expect(led.scb!.type).toBe(SCS.CMD_ENC);
    expect(st.channel!.open(led)).toEqual({ ok: true, data: Buffer.alloc(14, 1) });
  });

  it('ignores a reply with a bad MAC (counted) and accepts the retransmitted good one', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    const st = secureOnline(h, KEY);
    const poll = h.send();
    st.channel!.open(poll);
    const good = st.channel!.seal({ address: 5, sequence: poll.sequence, code: REPLY.ACK });
    const forged = Buffer.from(good);
    forged[forged.length - 3]! ^= 1;
    const f = one(encodeFrame({ address: 5, reply: true, sequence: poll.sequence, scb: { type: SCS.REPLY_MAC, data: Buffer.alloc(0) }, code: REPLY.ACK, mac: () => Buffer.concat([forged.subarray(forged.length - 6, forged.length - 2), Buffer.alloc(12)]) }));
    h.s.handleFrame(f, h.now());
    expect(h.errors('GH_OSDP_SECURE_CHANNEL')[0]!.reason).toBe('bad_mac');
    expect(h.s.awaiting()).toBe(true);
    h.s.handleFrame(one(good), h.now());
    expect(h.s.awaiting()).toBe(false);
    expect(h.s.isSecure()).toBe(true);
  });

  it('repeats a command the reader answered with a plain BUSY while the channel is up', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    secureOnline(h, KEY);
    const poll = h.send();
    h.reply(poll, REPLY.BUSY);
    expect(h.send().raw.equals(poll.raw)).toBe(true);
    expect(h.s.isSecure()).toBe(true);
  });

  it('refuses a plain-text reply once the channel is up (no silent downgrade)', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    secureOnline(h, KEY);
    const poll = h.send();
    h.reply(poll, REPLY.RAW, encodeRaw(0, '1111'));
    expect(h.errors('GH_OSDP_SECURE_CHANNEL')[0]!.reason).toBe('wrong_block');
    expect(h.events.some((e) => e.type === 'card')).toBe(false);
  });

  it('reports a reader with the wrong key as offline and keeps retrying the handshake, never polling in plain text', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    bringOnline(h);
    pdAnswer(Buffer.alloc(16, 9), h, {}, h.send());
    const failed = h.events.find((e) => e.type === 'state' && e.state === 'offline') as Extract<SessionEvent, { type: 'state' }>;
    expect(failed.code).toBe('GH_OSDP_SECURE_CHANNEL');
    expect(failed.reason).toMatch(/cryptogram/);
    while (!h.s.ready(h.now())) h.advance(10);
    expect(h.send().code).toBe(CMD.CHLNG);
  });

  it('falls back to plain text only when allowed, and says so', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: true } });
    bringOnline(h);
    const chlng = h.send();
    h.reply(chlng, REPLY.NAK, Buffer.from([5]));
    expect(h.events.some((e) => e.type === 'plaintext_fallback')).toBe(true);
    expect(h.s.state()).toBe('online');
    const poll = h.send();
    expect([poll.code, poll.scb]).toEqual([CMD.POLL, undefined]);
  });

  it('installs a key: SCBK-D handshake, KEYSET saved before sending, then a new handshake on the new key', () => {
    const saved: Buffer[] = [];
    let n = 0;
    const h = make({ random: (len) => Buffer.alloc(len, ++n), secure: { install: true, allowPlaintext: false, saveKey: (k) => saved.push(Buffer.from(k)) } });
    bringOnline(h);
    const st: Parameters<typeof pdAnswer>[2] = {};
    const chlng = h.send();
    expect(chlng.scb!.data[0]).toBe(0x00); // SCBK-D
    pdAnswer(SCBK_D, h, st, chlng);
    pdAnswer(SCBK_D, h, st, h.send());
    expect(h.s.state()).toBe('starting');
    const keyset = h.send();
    expect(keyset.code).toBe(CMD.KEYSET);
    expect(saved).toHaveLength(1);
    const opened = st.channel!.open(keyset);
    expect(opened.ok && opened.data.subarray(2).equals(saved[0]!)).toBe(true);
    h.s.handleFrame(one(st.channel!.seal({ address: 5, sequence: keyset.sequence, code: REPLY.ACK })), h.now());
    expect(h.events).toContainEqual({ type: 'keyset', ok: true });
    const again = h.send();
    expect([again.code, again.scb!.data[0]]).toEqual([CMD.CHLNG, 0x01]);
    const st2: Parameters<typeof pdAnswer>[2] = {};
    pdAnswer(saved[0]!, h, st2, again);
    pdAnswer(saved[0]!, h, st2, h.send());
    expect(h.s.state()).toBe('online');
    expect(h.s.isSecure()).toBe(true);
  });

  it('does not send KEYSET when the new key cannot be saved, and reports it', () => {
    const h = make({ secure: { install: true, allowPlaintext: false, saveKey: () => { throw new Error('EROFS'); } } });
    bringOnline(h);
    const st: Parameters<typeof pdAnswer>[2] = {};
    pdAnswer(SCBK_D, h, st, h.send());
    pdAnswer(SCBK_D, h, st, h.send());
    expect(h.s.nextMessage(h.now())).toBeUndefined();
    expect(h.errors('GH_OSDP_KEY')[0]!.detail).toBe('EROFS');
    expect(h.s.state()).toBe('offline');
  });

  it('fails the handshake when the reader accepts only SCBK-D and install mode is off', () => {
    const h = make({ secure: { install: false, allowPlaintext: false } });
    bringOnline(h);
    const st: Parameters<typeof pdAnswer>[2] = {};
    pdAnswer(SCBK_D, h, st, h.send());
    pdAnswer(SCBK_D, h, st, h.send());
    expect(h.errors('GH_OSDP_SECURE_CHANNEL')[0]!.detail).toMatch(/install mode is off/);
    expect(h.s.state()).toBe('offline');
  });

  it('re-establishes the channel when the reader drops it (plain NAK)', () => {
    const h = make({ secure: { scbk: KEY, install: false, allowPlaintext: false } });
    secureOnline(h, KEY);
    const poll = h.send();
    h.reply(poll, REPLY.NAK, Buffer.from([6]));
    expect(h.errors('GH_OSDP_SECURE_CHANNEL')[0]!.reason).toBe('pd_dropped_channel');
    expect(h.send().code).toBe(CMD.CHLNG);
  });
});

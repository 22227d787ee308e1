import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Transport } from '../serial/transport.js';
import { decodeFrames, encodeFrame } from './frame.js';
import { CMD } from './commands.js';
import { REPLY, encodePdcap, encodePdid, encodeRaw } from './replies.js';
import { ReaderSession, type SessionOptions } from './session.js';
import { OsdpBus, type BusError } from './bus.js';

/**
 * A fake line with readers that answer 2 ms after each command (fake time), written for
 * these tests: `answering` addresses reply to ID/CAP/POLL, the others stay silent; a card
 * put in `cards` is handed over as RAW in the reply to that reader's next POLL.
 */
function fakeLine(answering: Set<number>, now: () => number) {
  let listener: ((c: Buffer) => void) | undefined;
  const sent: Array<{ address: number; code: number; at: number }> = [];
  const cards = new Map<number, string>();
  const transport: Transport = {
    isOpen: true,
    write: async (bytes) => {
      for (const f of decodeFrames(bytes).frames) {
        sent.push({ address: f.address, code: f.code, at: now() });
        if (!answering.has(f.address)) continue;
        const card = f.code === CMD.POLL ? cards.get(f.address) : undefined;
        cards.delete(f.address);
        const [code, data] =
          f.code === CMD.ID
            ? [REPLY.PDID, encodePdid({ vendor: 1, model: 1, version: 1, serial: 1, firmware: [1, 0, 0] })]
            : f.code === CMD.CAP
              ? [REPLY.PDCAP, encodePdcap([[1, 1, 0]])]
              : card !== undefined
                ? [REPLY.RAW, encodeRaw(0, card)]
                : [REPLY.ACK, Buffer.alloc(0)];
        const reply = encodeFrame({ address: f.address, reply: true, sequence: f.sequence, code, data });
        setTimeout(() => listener?.(reply), 2);
      }
    },
    onData: (l) => {
      listener = l;
    },
    onClose: () => {},
    flush: async () => {},
    close: async () => {},
  };
  return { transport, sent, cards, push: (b: Buffer) => listener?.(b) };
}

describe('OsdpBus scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function build(addresses: number[], answering: number[], options: Partial<SessionOptions> = {}) {
    const now = () => Date.now();
    const line = fakeLine(new Set(answering), now);
    const sessions = addresses.map((address) => new ReaderSession({ address, baudRate: 115200, ...options }, now()));
    const errors: BusError[] = [];
    const exchanges = new Map<number, number>();
    const bus = new OsdpBus({ transport: line.transport, sessions, now, onError: (e) => errors.push(e), onExchange: (a) => exchanges.set(a, (exchanges.get(a) ?? 0) + 1) });
    return { bus, line, sessions, errors, exchanges };
  }

  it('serves readers in turn; a silent reader costs the others at most its reply timeout per slot, and ever more rarely', async () => {
    const t = build([1, 2, 3], [1, 2], { pollIntervalMs: 50 });
    t.bus.start();
    await vi.advanceTimersByTimeAsync(3000);
    const polls1 = t.line.sent.filter((s) => s.address === 1).map((s) => s.at);
    const gaps = polls1.slice(1).map((at, i) => at - polls1[i]!);
    // At worst a poll interval, then the silent reader's slot (200 ms timeout + wire time) and the other reader's few ms.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(50 + 215);
    // The silent reader is suspect from its second miss: its slots come 250, 500, then 1,000 ms apart, so only a few
    // polls of the others wait for one (it had a slot at every turn: ~14 polls of reader 1 in these 3 s, not ~50).
    expect(gaps.filter((g) => g > 100).length).toBeLessThanOrEqual(6);
    expect(t.exchanges.get(1)).toBeGreaterThan(35);
    expect(t.exchanges.get(2)).toBeGreaterThan(35);
    await vi.advanceTimersByTimeAsync(8000);
    expect(t.sessions[2]!.state()).toBe('offline');
    // Offline, the silent reader is only probed at its backoff interval: the others are polled at
    // their poll interval again (50 ms: 20 per second) instead of once per silent timeout (~5).
    const before = t.exchanges.get(1)!;
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.exchanges.get(1)! - before).toBeGreaterThanOrEqual(18);
    t.bus.stop();
  });

  it('polls an idle reader once per poll interval and sleeps in between', async () => {
    const t = build([1, 2, 3], [1, 2, 3], { pollIntervalMs: 100 });
    t.bus.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(t.sessions.every((s) => s.state() === 'online')).toBe(true);
    const from = t.line.sent.length;
    await vi.advanceTimersByTimeAsync(2000);
    const window = t.line.sent.slice(from);
    for (const address of [1, 2, 3]) {
      const polls = window.filter((s) => s.address === address && s.code === CMD.POLL).map((s) => s.at);
      const gaps = polls.slice(1).map((at, i) => at - polls[i]!);
      // Never sooner than the interval; later only by the other readers' exchanges (2 ms each) and timer rounding.
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(106);
    }
    // About 3 readers x 10 polls/s: the idle line is not polled flat out (that was ~300 exchanges/s per reader here).
    expect(window.length).toBeGreaterThanOrEqual(57);
    expect(window.length).toBeLessThanOrEqual(63);
    t.bus.stop();
  });

  it('sends feedback queued mid-interval at once, not at the reader\'s next poll', async () => {
    const t = build([1, 2], [1, 2], { pollIntervalMs: 200 });
    t.bus.start();
    await vi.advanceTimersByTimeAsync(1000);
    // Queue 60 ms after reader 2's last poll: its next one is 140 ms away.
    const lastPoll = () => Math.max(...t.line.sent.filter((s) => s.address === 2 && s.code === CMD.POLL).map((s) => s.at));
    for (let i = 0; i < 400 && Date.now() - lastPoll() !== 60; i++) await vi.advanceTimersByTimeAsync(1);
    expect(Date.now() - lastPoll()).toBe(60);
    const queuedAt = Date.now();
    t.sessions[1]!.enqueue({ code: CMD.OUT, data: Buffer.from([0, 5, 1, 0]) });
    t.sessions[1]!.enqueue({ code: CMD.LED, data: Buffer.alloc(14) });
    t.bus.kick();
    await vi.advanceTimersByTimeAsync(20);
    const feedback = t.line.sent.filter((s) => s.address === 2 && (s.code === CMD.OUT || s.code === CMD.LED));
    expect(feedback.map((s) => s.code)).toEqual([CMD.OUT, CMD.LED]);
    // OUT at once (or after the one exchange already on the line), LED right after its ACK: ~140 ms before the next poll.
    expect(feedback[0]!.at - queuedAt).toBeLessThanOrEqual(3);
    expect(feedback[1]!.at - queuedAt).toBeLessThanOrEqual(6);
    t.bus.stop();
  });

  it('picks up a card presented at any moment within one poll interval', async () => {
    const t = build([1, 2, 3, 4], [1, 2, 3, 4], { pollIntervalMs: 50 });
    const cards: Array<{ address: number; at: number }> = [];
    for (const s of t.sessions) s.on((e) => e.type === 'card' && cards.push({ address: s.address, at: Date.now() }));
    t.bus.start();
    await vi.advanceTimersByTimeAsync(500);
    const delays: number[] = [];
    for (let i = 0; i < 40; i++) {
      const address = 1 + (i % 4);
      // Odd steps so presentations land at every phase of the poll cycle.
      await vi.advanceTimersByTimeAsync(7 + ((i * 13) % 41));
      const presented = Date.now();
      t.line.cards.set(address, '1'.repeat(26));
      await vi.advanceTimersByTimeAsync(100);
      const got = cards.find((c) => c.address === address && c.at >= presented);
      expect(got).toBeDefined();
      delays.push(got!.at - presented);
    }
    // Interval plus the POLL/RAW exchange itself and at most the exchange already on the line.
    expect(Math.max(...delays)).toBeLessThanOrEqual(50 + 6);
    t.bus.stop();
  });

  it('shares a saturated line evenly: with no poll interval every reader gets the same number of slots', async () => {
    const t = build([1, 2, 3], [1, 2, 3], { pollIntervalMs: 0 });
    t.bus.start();
    await vi.advanceTimersByTimeAsync(500);
    const before = [1, 2, 3].map((a) => t.exchanges.get(a)!);
    await vi.advanceTimersByTimeAsync(1000);
    const counts = [1, 2, 3].map((a, i) => t.exchanges.get(a)! - before[i]!);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // Back to back: an exchange every few ms (each reply takes 2 ms), far above 20 polls/s per reader.
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(300);
    t.bus.stop();
  });

  it('wakes up for the next probe when every reader is backing off', async () => {
    const t = build([7], []);
    t.bus.start();
    await vi.advanceTimersByTimeAsync(9000);
    expect(t.sessions[0]!.state()).toBe('offline');
    const n = t.line.sent.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.line.sent.length).toBeGreaterThan(n);
    t.bus.stop();
  });

  it('counts unsolicited replies, echoed commands, out-of-turn and unknown addresses, and drops a flood', async () => {
    const t = build([1], []);
    t.bus.start();
    await vi.advanceTimersByTimeAsync(1);
    // While reader 1 is being asked:
    t.line.push(encodeFrame({ address: 0x33, reply: true, sequence: 0, code: REPLY.ACK }));
    t.line.push(encodeFrame({ address: 1, sequence: 0, code: CMD.POLL }));
    await vi.advanceTimersByTimeAsync(9000);
    t.bus.stop();
    // Between exchanges (bus stopped: nobody asked):
    t.line.push(encodeFrame({ address: 1, reply: true, sequence: 0, code: REPLY.ACK }));
    t.line.push(Buffer.concat([Buffer.from([0x53, 0x01, 0x00, 0x04]), Buffer.alloc(2000, 0x53)]));
    const reasons = t.errors.map((e) => `${e.code}:${e.reason}`);
    expect(reasons).toContain('GH_OSDP_ADDRESS:unknown_address');
    expect(reasons).toContain('GH_OSDP_BAD_FRAME:not_a_reply');
    expect(reasons).toContain('GH_OSDP_FLOOD:unsolicited');
  });

  it('drops the unfinished tail of a reply at the timeout as truncated', async () => {
    const t = build([1], []);
    t.bus.start();
    await vi.advanceTimersByTimeAsync(1);
    t.line.push(Buffer.from([0x53, 0x81, 0x20, 0x00, 0x04, 0x40]));
    await vi.advanceTimersByTimeAsync(400);
    t.bus.stop();
    expect(t.errors.map((e) => e.reason)).toContain('truncated');
  });

  it('sends queued feedback in the next free slot, ahead of the other readers\' polls', async () => {
    const t = build([1, 2, 3], [1, 2, 3]);
    t.bus.start();
    await vi.advanceTimersByTimeAsync(200);
    expect(t.sessions.every((s) => s.state() === 'online')).toBe(true);
    t.sessions[2]!.enqueue({ code: CMD.LED, data: Buffer.alloc(14) });
    const from = t.line.sent.length;
    await vi.advanceTimersByTimeAsync(20);
    const next = t.line.sent.slice(from, from + 2);
    // At most the exchange already on the line, then the LED.
    expect(next.map((x) => x.code)).toContain(CMD.LED);
    t.bus.stop();
  });

  it('does not let a reader that went quiet with feedback queued hog the line', async () => {
    const answering = new Set([1, 2]);
    const now = () => Date.now();
    const line = fakeLine(answering, now);
    const sessions = [1, 2].map((address) => new ReaderSession({ address, baudRate: 115200 }, now()));
    const bus = new OsdpBus({ transport: line.transport, sessions, now, onError: () => {} });
    bus.start();
    await vi.advanceTimersByTimeAsync(100);
    answering.delete(2);
    for (let i = 0; i < 4; i++) sessions[1]!.enqueue({ code: CMD.LED, data: Buffer.alloc(14) });
    const from = line.sent.length;
    await vi.advanceTimersByTimeAsync(2000);
    const toReader1 = line.sent.slice(from).filter((x) => x.address === 1).length;
    // Reader 1 still gets every other slot: about one per 200 ms timeout of reader 2.
    expect(toReader1).toBeGreaterThanOrEqual(8);
    bus.stop();
  });

  it('kick() starts an exchange at once when the line is idle', async () => {
    const t = build([1], [1]);
    t.bus.start();
    t.bus.kick();
    await vi.advanceTimersByTimeAsync(50);
    expect(t.exchanges.get(1)).toBeGreaterThan(0);
    t.bus.stop();
  });
});

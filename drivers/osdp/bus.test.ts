import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Transport } from '../serial/transport.js';
import { decodeFrames, encodeFrame } from './frame.js';
import { CMD } from './commands.js';
import { REPLY, encodePdcap, encodePdid } from './replies.js';
import { ReaderSession } from './session.js';
import { OsdpBus, type BusError } from './bus.js';

/**
 * A fake line with readers that answer instantly (fake time), written for these
 * tests: `answering` addresses reply to ID/CAP/POLL, the others stay silent.
 */
function fakeLine(answering: Set<number>, now: () => number) {
  let listener: ((c: Buffer) => void) | undefined;
  const sent: Array<{ address: number; code: number; at: number }> = [];
  const transport: Transport = {
    isOpen: true,
    write: async (bytes) => {
      for (const f of decodeFrames(bytes).frames) {
        sent.push({ address: f.address, code: f.code, at: now() });
        if (!answering.has(f.address)) continue;
        const [code, data] = f.code === CMD.ID ? [REPLY.PDID, encodePdid({ vendor: 1, model: 1, version: 1, serial: 1, firmware: [1, 0, 0] })] : f.code === CMD.CAP ? [REPLY.PDCAP, encodePdcap([[1, 1, 0]])] : [REPLY.ACK, Buffer.alloc(0)];
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
  return { transport, sent, push: (b: Buffer) => listener?.(b) };
}

describe('OsdpBus scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function build(addresses: number[], answering: number[]) {
    const now = () => Date.now();
    const line = fakeLine(new Set(answering), now);
    const sessions = addresses.map((address) => new ReaderSession({ address, baudRate: 115200 }, now()));
    const errors: BusError[] = [];
    const exchanges = new Map<number, number>();
    const bus = new OsdpBus({ transport: line.transport, sessions, now, onError: (e) => errors.push(e), onExchange: (a) => exchanges.set(a, (exchanges.get(a) ?? 0) + 1) });
    return { bus, line, sessions, errors, exchanges };
  }

  it('serves readers in turn; a silent reader costs the others at most its reply timeout per slot', async () => {
    const t = build([1, 2, 3], [1, 2]);
    t.bus.start();
    await vi.advanceTimersByTimeAsync(3000);
    const polls1 = t.line.sent.filter((s) => s.address === 1).map((s) => s.at);
    const gaps = polls1.slice(1).map((at, i) => at - polls1[i]!);
    // 200 ms timeout + wire time for the silent reader's slot, a few ms for the other answering reader.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(215);
    expect(t.exchanges.get(1)).toBeGreaterThan(10);
    expect(t.exchanges.get(2)).toBeGreaterThan(10);
    await vi.advanceTimersByTimeAsync(8000);
    expect(t.sessions[2]!.state()).toBe('offline');
    // Offline, the silent reader is only probed at its backoff interval: the others' cycle speeds up.
    const before = t.exchanges.get(1)!;
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.exchanges.get(1)! - before).toBeGreaterThan(100);
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

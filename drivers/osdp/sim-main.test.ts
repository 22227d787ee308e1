import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { applySimLine, feedbackLine, parseSimArgs } from './sim-main.js';
import type { OsdpSimulator } from './sim.js';

/** A recording stand-in for the simulator: only the methods the stdin protocol drives. */
function recorder() {
  const calls: unknown[][] = [];
  const sim = Object.assign(new EventEmitter(), {
    presentCard: (a: number, bits: string) => calls.push(['card', a, bits]),
    presentKeypad: (a: number, d: string) => calls.push(['keypad', a, d]),
    setTamper: (a: number, on: boolean) => calls.push(['tamper', a, on]),
    setSilent: (a: number, on: boolean) => calls.push(['silent', a, on]),
  });
  return { sim: sim as unknown as OsdpSimulator, calls };
}

describe('sim-main arguments', () => {
  it('parses port, baud, repeated addresses and a key', () => {
    expect(parseSimArgs(['--port', '/dev/pts/3', '--baud', '9600', '--address', '0', '--address', '5', '--scbk', '00'.repeat(16), '--install'])).toEqual({ port: '/dev/pts/3', baud: 9600, addresses: [0, 5], scbk: Buffer.alloc(16), install: true });
    expect(parseSimArgs(['--port', 'p'])).toEqual({ port: 'p', baud: 115200, addresses: [0], install: false });
  });
  it('names the problem with bad arguments', () => {
    expect(parseSimArgs([])).toEqual({ error: '--port PATH is required' });
    expect(parseSimArgs(['--port', 'p', '--baud', 'fast'])).toMatchObject({ error: expect.stringMatching(/--baud/) });
    expect(parseSimArgs(['--port', 'p', '--address', '127'])).toMatchObject({ error: expect.stringMatching(/0-126/) });
    expect(parseSimArgs(['--port', 'p', '--scbk', 'abc'])).toMatchObject({ error: expect.stringMatching(/32 hex/) });
    expect(parseSimArgs(['--port', 'p', '--bogus'])).toHaveProperty('error');
  });
});

describe('sim-main stdin protocol', () => {
  it('turns lines into card, bits, keypad, tamper and silent actions', () => {
    const { sim, calls } = recorder();
    expect(applySimLine(sim, 'card 0 H10301 12 3456')).toBeUndefined();
    expect(applySimLine(sim, 'bits 1 0101')).toBeUndefined();
    expect(applySimLine(sim, 'keypad 2 1234')).toBeUndefined();
    expect(applySimLine(sim, 'tamper 2 on')).toBeUndefined();
    expect(applySimLine(sim, 'silent 3 off')).toBeUndefined();
    expect(applySimLine(sim, '   ')).toBeUndefined();
    expect(calls).toEqual([
      ['card', 0, '00000110000001101100000001'],
      ['card', 1, '0101'],
      ['keypad', 2, '1234'],
      ['tamper', 2, true],
      ['silent', 3, false],
    ]);
  });
  it('answers bad lines with a reason', () => {
    const { sim } = recorder();
    expect(applySimLine(sim, 'card x H10301 1 2')).toMatch(/bad address/);
    expect(applySimLine(sim, 'card 0 NOPE 1 2')).toMatch(/unknown card format/);
    expect(applySimLine(sim, 'card 0 H10301 999 2')).toMatch(/does not fit/);
    expect(applySimLine(sim, 'bits 0 012')).toMatch(/0 and 1/);
    expect(applySimLine(sim, 'dance 0')).toMatch(/unknown command/);
  });
  it('prints one line per feedback command', () => {
    expect(feedbackLine({ address: 1, command: 'LED', detail: { records: [{ color: 'green' }] }, at: 0 })).toBe('led 1 green');
    expect(feedbackLine({ address: 1, command: 'OUT', detail: { records: [{ output: 0, control: 5, timerMs: 3000 }] }, at: 0 })).toBe('out 1 0 5 3000');
    expect(feedbackLine({ address: 1, command: 'BUZ', detail: { count: 1 }, at: 0 })).toBe('buz 1 1');
    expect(feedbackLine({ address: 1, command: 'TEXT', detail: { text: 'Hi' }, at: 0 })).toBe('text 1 Hi');
  });
});

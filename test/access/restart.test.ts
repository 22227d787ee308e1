import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeClock, lane, removeDir, rig, zone, type Rig } from './harness.js';

const NOON = Date.parse('2026-03-04T12:00:00Z');
const zones = [zone('hard', { antiPassback: { mode: 'hard' }, capacity: 10 }), zone('timed', { antiPassback: { mode: 'timed', minutes: 30 } })];
const lanes = [lane('in', 'hard'), lane('out', 'hard', { direction: 'out' }), lane('in-timed', 'timed')];
const records = [
  { holder: 'a', credentials: [{ kind: 'card' as const, value: '1' }] },
  { holder: 'b', credentials: [{ kind: 'card' as const, value: '2' }] },
  { holder: 'ticket', credentials: [{ kind: 'barcode' as const, value: 'T-1' }], limits: { total: 1 } },
];

describe('access state survives a restart', () => {
  let r: Rig | undefined;
  afterEach(() => {
    r?.close();
    if (r) removeDir(r.dir);
    r = undefined;
  });

  it('keeps anti-passback, occupancy, entry counts and the cache across close and reopen', async () => {
    r = await rig({ zones, lanes, records, clock: fakeClock(NOON) });
    expect(r.engine.decide('in', { kind: 'card', value: '1' }).result).toBe('granted');
    expect(r.engine.decide('in', { kind: 'card', value: '2' }).result).toBe('granted');
    expect(r.engine.decide('out', { kind: 'card', value: '2' }).result).toBe('granted');
    expect(r.engine.decide('in', { kind: 'barcode', value: 'T-1' }).result).toBe('granted');
    expect(r.engine.decide('in-timed', { kind: 'card', value: '1' }).result).toBe('granted');
    expect(r.engine.occupancy('hard')).toBe(2);

    r.restart();
    r.clock.advance(60_000);

    expect(r.store.status()).toMatchObject({ loaded: true, holders: 3 });
    expect(r.engine.occupancy('hard')).toBe(2);
    expect(r.engine.decide('in', { kind: 'card', value: '1' })).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    expect(r.engine.decide('out', { kind: 'card', value: '2' })).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    const again = r.engine.decide('in', { kind: 'card', value: '2' });
    expect(again.result).toBe('granted');
    expect(again.flags.firstEntryOfDay).toBeUndefined();
    expect(r.engine.decide('in-timed', { kind: 'card', value: '1' })).toMatchObject({ result: 'denied', reason: 'anti_passback' });
    expect(r.engine.decide('out', { kind: 'barcode', value: 'T-1' }).result).toBe('granted');
    expect(r.engine.decide('in', { kind: 'barcode', value: 'T-1' })).toMatchObject({ result: 'denied', reason: 'entry_limit' });
    expect(r.engine.occupancy('hard')).toBe(2);
  });

  it('writes state behind on a timer, so a crash after the flush interval keeps it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      r = await rig({ zones, lanes, records, clock: fakeClock(NOON) });
      expect(r.engine.decide('in', { kind: 'card', value: '1' }).result).toBe('granted');
      vi.advanceTimersByTime(1_000);
      // Simulate a crash: reopen the same directory while the first engine never ran close().
      const crashed = r;
      r = await rig({ zones, lanes, dir: crashed.dir, clock: crashed.clock });
      expect(r.engine.occupancy('hard')).toBe(1);
      expect(r.engine.decide('in', { kind: 'card', value: '1' }).reason).toBe('anti_passback');
      crashed.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

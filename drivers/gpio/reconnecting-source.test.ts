import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readerContext } from '../../test/readers/context.js';
import { GatehouseError } from '../../gateway/errors.js';
import { readerMetrics } from './metrics.js';
import { createReconnectingSource, type ReconnectingSource } from './reconnecting-source.js';

/**
 * A shell around a source whose next opens fail with the errors queued in
 * `failures`; it goes online the way the drivers do, from its `open`.
 */
function setUp(failedState: 'unavailable' | 'offline') {
  const t = readerContext({ id: 'r1' });
  const failures: Error[] = [];
  const calls: string[] = [];
  const shell: ReconnectingSource = createReconnectingSource(t.ctx, {
    metrics: readerMetrics(t.ctx.metrics),
    code: 'GH_HID_UNAVAILABLE',
    what: 'test reader',
    failedState,
    open: async () => {
      calls.push('open');
      const err = failures.shift();
      if (err) throw err;
      shell.setState('online');
    },
    close: async () => {
      calls.push('close');
    },
  });
  const states = () => t.seen('device.status').map((s) => (s.reason ? `${s.state}(${s.reason})` : s.state));
  return { t, shell, failures, calls, states };
}

describe('createReconnectingSource', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts, goes online when open says so, and on stop closes the source and reports stopped', async () => {
    const { t, shell, calls, states } = setUp('unavailable');
    expect(shell.state()).toBe('stopped');
    expect(shell.stopped).toBe(true);
    await shell.start();
    expect(shell.stopped).toBe(false);
    expect(shell.state()).toBe('online');
    await shell.stop();
    expect(shell.stopped).toBe(true);
    expect(calls).toEqual(['open', 'close']);
    expect(states()).toEqual(['starting', 'online', 'stopped']);
    expect(t.seen('device.status')[0]).toMatchObject({ deviceId: 'r1', at: 1_000_000 });
  });

  it('reports a failed open in failedState with its reason and code (the fallback one for an uncoded error), retrying with backoff', async () => {
    const { t, shell, failures, calls, states } = setUp('offline');
    failures.push(new Error('no such device'), new GatehouseError('GH_SERIAL_OPEN', 'port busy'));
    const warn = vi.spyOn(t.ctx.log, 'warn');
    await shell.start();
    expect(warn).toHaveBeenLastCalledWith({ code: 'GH_HID_UNAVAILABLE', retryInMs: 1000 }, 'test reader unavailable: no such device');
    expect(shell.state()).toBe('offline');
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'r1', code: 'GH_HID_UNAVAILABLE' })).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toEqual(['open']);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['open', 'open']);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'r1', code: 'GH_SERIAL_OPEN' })).toBe(1);
    // The second failure doubles the wait.
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toEqual(['open', 'open']);
    await vi.advanceTimersByTimeAsync(1);
    expect(shell.state()).toBe('online');
    expect(states()).toEqual(['starting', 'offline(no such device)', 'offline(port busy)', 'online']);
    await shell.stop();
  });

  it('goes offline when the source is lost and reopens it, but ignores a loss after stop', async () => {
    const { t, shell, calls, states } = setUp('unavailable');
    const warn = vi.spyOn(t.ctx.log, 'warn');
    await shell.start();
    shell.lost('test reader went away: unplugged', 'unplugged');
    expect(shell.state()).toBe('offline');
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual(['open', 'open']);
    expect(shell.state()).toBe('online');
    await shell.stop();
    shell.lost('test reader went away: closed', 'device closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual(['open', 'open', 'close']);
    expect(states()).toEqual(['starting', 'online', 'offline(unplugged)', 'online', 'stopped']);
    expect(warn.mock.calls).toEqual([[{ code: 'GH_HID_UNAVAILABLE' }, 'test reader went away: unplugged']]);
  });
});

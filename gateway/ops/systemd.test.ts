import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/log.js';
import { systemdNotifier } from './systemd.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemdNotifier', () => {
  it('does nothing outside systemd', async () => {
    const sent: string[][] = [];
    const n = systemdNotifier({ log: silentLogger(), env: {}, send: async (a) => void sent.push(a) });
    await n.ready('up');
    await n.status('x');
    await n.stopping();
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeUndefined();
    expect(sent).toEqual([]);
  });

  it('sends READY with a status, then pings the watchdog at half of WatchdogSec until stopping', async () => {
    vi.useFakeTimers();
    const sent: string[][] = [];
    const n = systemdNotifier({ log: silentLogger(), pid: 42, env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, send: async (a) => void sent.push(a) });
    expect(n.watchdogIntervalMs).toBe(15_000);
    await n.ready('serving decisions');
    expect(sent).toEqual([['--pid=42', 'READY=1', 'STATUS=serving decisions']]);
    await vi.advanceTimersByTimeAsync(45_000);
    expect(sent.slice(1)).toEqual([
      ['--pid=42', 'WATCHDOG=1'],
      ['--pid=42', 'WATCHDOG=1'],
      ['--pid=42', 'WATCHDOG=1'],
    ]);
    await n.status('3 readers online');
    await n.stopping();
    const count = sent.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent.length).toBe(count);
    expect(sent.slice(-2)).toEqual([['--pid=42', 'STATUS=3 readers online'], ['--pid=42', 'STOPPING=1']]);
  });

  it('no watchdog when WatchdogSec is off or meant for another process', () => {
    const env = { NOTIFY_SOCKET: '@sock' };
    expect(systemdNotifier({ log: silentLogger(), env }).watchdogIntervalMs).toBeUndefined();
    expect(systemdNotifier({ log: silentLogger(), pid: 1, env: { ...env, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '2' } }).watchdogIntervalMs).toBeUndefined();
    expect(systemdNotifier({ log: silentLogger(), env: { ...env, WATCHDOG_USEC: '100' } }).watchdogIntervalMs).toBe(500);
  });

  it('counts every failed notification with GH_SYSTEMD_NOTIFY and logs once per outage', async () => {
    vi.useFakeTimers();
    const codes: string[] = [];
    const logged: unknown[] = [];
    const log = silentLogger();
    vi.spyOn(log, 'error').mockImplementation(((obj: unknown) => void logged.push(obj)) as typeof log.error);
    let fail = true;
    const n = systemdNotifier({ log, env: { NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '2000000' }, onError: (c) => codes.push(c), send: async () => { if (fail) throw new Error('spawn systemd-notify ENOENT'); } });
    await n.ready();
    await vi.advanceTimersByTimeAsync(3000);
    expect(codes).toEqual(['GH_SYSTEMD_NOTIFY', 'GH_SYSTEMD_NOTIFY', 'GH_SYSTEMD_NOTIFY', 'GH_SYSTEMD_NOTIFY']);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ code: 'GH_SYSTEMD_NOTIFY' });
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    fail = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(logged).toHaveLength(2);
    n.close();
  });

  it('really runs systemd-notify: outside systemd it fails and is reported, never thrown', async () => {
    const codes: string[] = [];
    const n = systemdNotifier({ log: silentLogger(), env: { NOTIFY_SOCKET: '/nonexistent/notify-socket' }, onError: (c) => codes.push(c) });
    await expect(n.ready()).resolves.toBeUndefined();
    expect(codes).toEqual(['GH_SYSTEMD_NOTIFY']);
  });
});

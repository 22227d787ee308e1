import { spawn } from 'node:child_process';

/**
 * systemd integration without a native module: `systemd-notify` sends READY=1
 * and the watchdog keep-alive. The unit needs `NotifyAccess=all` because the
 * message comes from a child process (deploy/gatehouse.service).
 * A hung event loop stops the keep-alives, and systemd restarts the service.
 */
export function startSystemdNotify(env: NodeJS.ProcessEnv = process.env): { stop(): void } {
  if (!env.NOTIFY_SOCKET) return { stop: () => {} };
  const notify = (...args: string[]) => {
    const child = spawn('systemd-notify', args, { stdio: 'ignore' });
    child.on('error', () => {});
  };
  notify('--ready', `--status=running`);
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  if (!(usec > 0)) return { stop: () => {} };
  const timer = setInterval(() => notify('WATCHDOG=1'), usec / 1000 / 2);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

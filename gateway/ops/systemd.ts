import { execFile } from 'node:child_process';
import type { Logger } from '../core/log.js';
import { GatehouseError } from '../errors.js';

/**
 * Readiness and watchdog notifications for `Type=notify` (deploy/gatehouse.service).
 * Node has no AF_UNIX datagram sockets, so messages go through `systemd-notify`
 * (NotifyAccess=all in the unit). systemd-notify waits until the manager has
 * processed the message (sd_notify_barrier, systemd >= 246), so a short-lived
 * sender is still attributed to the service.
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 */
export interface SystemdNotifier {
  /** True when running under systemd with a notify socket. */
  readonly enabled: boolean;
  /** Watchdog ping interval in ms (half of WatchdogSec), when the watchdog is on for this process. */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1 (call once the gateway serves decisions). Starts the watchdog pings. */
  ready(status?: string): Promise<void>;
  /** STATUS=... shown by `systemctl status`. */
  status(text: string): Promise<void>;
  /** STOPPING=1, and stops the watchdog pings. */
  stopping(): Promise<void>;
  /** Stops the watchdog pings without telling systemd (tests, errors). */
  close(): void;
}

export interface SystemdNotifierOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** Sends one notification (`systemd-notify --pid=PID VAR=VALUE...` with `env`); injected by tests. */
  send?: (args: string[], env: NodeJS.ProcessEnv) => Promise<void>;
  /** Counts a failed notification (the gateway's `gatehouse_errors_total{code}`). */
  onError?: (code: 'GH_SYSTEMD_NOTIFY') => void;
}

function systemdNotify(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { timeout: 5000, env }, (err, _stdout, stderr) => (err ? reject(new Error(`${err.message.split('\n')[0]}${stderr ? `: ${stderr.trim()}` : ''}`)) : resolve()));
  });
}

export function systemdNotifier(options: SystemdNotifierOptions): SystemdNotifier {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const send = options.send ?? systemdNotify;
  const enabled = typeof env.NOTIFY_SOCKET === 'string' && env.NOTIFY_SOCKET !== '';
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  const watchdogIntervalMs = enabled && forUs && Number.isFinite(usec) && usec > 0 ? Math.max(500, Math.floor(usec / 2000)) : undefined;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  async function notify(...vars: string[]): Promise<void> {
    if (!enabled) return;
    try {
      await send([`--pid=${pid}`, ...vars], env);
      if (failing) options.log.info('systemd notifications work again');
      failing = false;
    } catch (err) {
      options.onError?.('GH_SYSTEMD_NOTIFY');
      // Logged once per outage: a missing systemd-notify would otherwise log every ping.
      if (!failing) {
        const e = new GatehouseError('GH_SYSTEMD_NOTIFY', `systemd-notify ${vars.join(' ')} failed: ${(err as Error).message}`, undefined, { cause: err });
        options.log.error({ code: e.code, err: e }, e.message);
      }
      failing = true;
    }
  }

  const stopPings = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  return {
    enabled,
    watchdogIntervalMs,
    async ready(status) {
      await notify('READY=1', ...(status ? [`STATUS=${status}`] : []));
      if (watchdogIntervalMs !== undefined && !timer) {
        // Pinged from the event loop: a loop that hangs stops pinging and systemd restarts the service.
        timer = setInterval(() => void notify('WATCHDOG=1'), watchdogIntervalMs);
        timer.unref();
      }
    },
    status: (text) => notify(`STATUS=${text}`),
    async stopping() {
      stopPings();
      await notify('STOPPING=1');
    },
    close: stopPings,
  };
}

import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LoadedConfig } from '../../config/load.js';
import { resolveFromConfig } from '../../config/secrets.js';
import { readSecretText } from '../../config/secrets.js';
import { createLogger, type Logger } from '../../gateway/core/log.js';
import { startGateway, type RunningGateway } from '../../gateway/app/gateway.js';
import { startCentralStandIn, type CentralStandIn } from '../central/index.js';
import { demoEntitlements } from './venue.js';
import { startDemoOsdpLane } from './osdp-lane.js';

export interface DemoOptions {
  loaded: LoadedConfig;
  /** Stop after this many seconds (tests); run until stopped otherwise. */
  durationS?: number;
  /** Where the live summary goes; defaults to stdout. */
  out?: NodeJS.WritableStream;
  log?: Logger;
  /** Admin port override (0 = ephemeral, for tests). */
  adminPort?: number;
  /** Seconds between summary lines. */
  summaryEveryS?: number;
}

export interface RunningDemo {
  gateway: RunningGateway;
  central: CentralStandIn;
  stop(): Promise<DemoSummary>;
  /** The figures so far. */
  summary(): DemoSummary;
  /** Resolves when `durationS` has elapsed (never, when no duration is set). */
  finished: Promise<void>;
}

export interface DemoSummary {
  decisions: number;
  granted: number;
  denied: number;
  eventsAtCentral: number;
  duplicatesAtCentral: number;
  outboxDepth: number;
  /** LED commands the simulated OSDP reader received (0 without socat). */
  osdpLedsShown: number;
}

/**
 * The built-in demo (`npm start`): a central stand-in on localhost publishing
 * the demo venue's entitlements, and the gateway running
 * config/examples/demo.yaml with its simulated readers. Prints a live summary.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const out = options.out ?? process.stdout;
  const log = options.log ?? createLogger({ level: process.env.GATEHOUSE_LOG_LEVEL ?? 'warn' });
  const { config, baseDir } = options.loaded;
  if (!config.central) throw new Error('the demo config needs a central: section');

  const url = new URL(config.central.url);
  const signingKeyFile = resolveFromConfig(baseDir, 'secrets/demo-central.key');
  const central = await startCentralStandIn({
    host: url.hostname,
    port: Number(url.port),
    ...(config.central.token ? { token: readSecretText(config.central.token, baseDir) } : {}),
    signingKey: createPrivateKey(readFileSync(signingKeyFile)),
    entitlements: demoEntitlements(),
    log: log.child({ component: 'central-stand-in' }),
  });

  const osdpLane = await startDemoOsdpLane();
  const withCentral = { ...config, central: { ...config.central, url: central.url } };
  const loaded: LoadedConfig = { ...options.loaded, config: osdpLane ? osdpLane.extend(withCentral) : withCentral };
  const gateway = await startGateway(loaded, { log, ...(options.adminPort !== undefined ? { adminPort: options.adminPort } : {}) });
  osdpLane?.start(2);

  let granted = 0;
  let denied = 0;
  gateway.bus.on('decision', (d) => {
    if (d.result === 'granted') granted++;
    else denied++;
  });

  out.write(
    [
      '',
      `Gatehouse demo: gateway "${config.gateway.id}" with ${gateway.drivers.size} simulated readers, central stand-in at ${central.url}`,
      osdpLane ? '  OSDP turnstile: simulated reader on a socat PTY pair at 115200 baud (lane entrance-2)' : '  (socat is not installed: the OSDP turnstile lane is left out; apt-get install socat)',
      `  health:  ${gateway.admin.url}/healthz`,
      `  metrics: ${gateway.admin.url}/metrics`,
      `  status:  ${gateway.admin.url}/`,
      '  Ctrl-C stops the demo.',
      '',
    ].join('\n') + '\n',
  );

  const summary = (): DemoSummary => {
    const c = central.counts();
    return { decisions: granted + denied, granted, denied, eventsAtCentral: c.unique, duplicatesAtCentral: c.duplicates, outboxDepth: gateway.outbox.depth(), osdpLedsShown: osdpLane?.ledsShown ?? 0 };
  };
  let lastDecisions = 0;
  const everyS = options.summaryEveryS ?? 2;
  const ticker = setInterval(() => {
    const s = summary();
    const rate = (s.decisions - lastDecisions) / everyS;
    lastDecisions = s.decisions;
    out.write(
      `decisions/s ${rate.toFixed(1).padStart(5)} | granted ${String(s.granted).padStart(6)} denied ${String(s.denied).padStart(6)} | events synced ${String(s.eventsAtCentral).padStart(6)} | outbox depth ${String(s.outboxDepth).padStart(5)}\n`,
    );
  }, everyS * 1000);

  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const durationTimer = options.durationS !== undefined ? setTimeout(finish, options.durationS * 1000) : undefined;

  let stopping: Promise<DemoSummary> | undefined;
  return {
    gateway,
    central,
    finished,
    summary,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(ticker);
        if (durationTimer) clearTimeout(durationTimer);
        await gateway.stop();
        await osdpLane?.close();
        const s = summary();
        await central.close();
        out.write(`\nDemo stopped: ${s.decisions} decisions (${s.granted} granted, ${s.denied} denied), ${s.eventsAtCentral} events at central, ${s.duplicatesAtCentral} duplicates, ${s.outboxDepth} left in the outbox.\n`);
        finish();
        return s;
      })();
      return stopping;
    },
  };
}

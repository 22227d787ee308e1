import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { formatProblem, loadConfigFile, type LoadedConfig } from '../../../config/load.js';
import { createLogger } from '../../core/log.js';
import { CliExit, EXIT_INVALID, EXIT_OK } from '../exit.js';

/** Loads a config or ends the command with exit 2 and every problem listed. */
export function loadOrExit(file: string): LoadedConfig {
  const r = loadConfigFile(file);
  if (!r.ok) {
    for (const p of r.problems) process.stderr.write(formatProblem(p) + '\n');
    throw new CliExit(EXIT_INVALID);
  }
  return r.value;
}

/** Resolves when SIGINT or SIGTERM arrives. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

export const DEMO_CONFIG = fileURLToPath(new URL('../../../config/examples/demo.yaml', import.meta.url));

/** `gatehouse run --config FILE` and `gatehouse demo`. */
export function register(program: Command): void {
  program
    .command('run')
    .description('run the gateway')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .action(async (opts: { config: string }) => {
      const loaded = loadOrExit(opts.config);
      const log = createLogger();
      const { startGateway } = await import('../../app/gateway.js');
      const { watchConfig } = await import('../../app/config-watcher.js');
      const { systemdNotifier } = await import('../../ops/systemd.js');
      const gateway = await startGateway(loaded, { log });
      const watcher = watchConfig({
        file: opts.config,
        onValid: async (next, why) => {
          log.info({ why }, 'config changed: reloading');
          await gateway.reload(next);
        },
        onInvalid: (problems, why) => {
          gateway.metrics.errors.inc({ code: 'GH_CONFIG_RELOAD_REJECTED' });
          for (const p of problems) log.error({ code: 'GH_CONFIG_RELOAD_REJECTED', why, problem: formatProblem(p) }, 'config change rejected; the running config stays');
        },
      });
      const systemd = systemdNotifier({ log });
      await systemd.ready(`gateway ${loaded.config.gateway.id} running`);
      const sig = await untilSignal();
      log.info({ signal: sig }, 'stopping');
      await systemd.stopping();
      systemd.close();
      watcher.close();
      await gateway.stop();
      throw new CliExit(EXIT_OK);
    });

  program
    .command('demo')
    .description('run the built-in demo: simulated venue + local central stand-in, no hardware needed')
    .option('-c, --config <file>', 'demo config', DEMO_CONFIG)
    .option('--duration <seconds>', 'stop after this many seconds', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new CliExit(EXIT_INVALID, `--duration must be a positive number of seconds, got "${v}"`);
      return n;
    })
    .action(async (opts: { config: string; duration?: number }) => {
      const { startDemo } = await import('../../../scripts/demo/demo.js');
      const demo = await startDemo({ loaded: loadOrExit(opts.config), ...(opts.duration !== undefined ? { durationS: opts.duration } : {}) });
      await Promise.race([untilSignal(), demo.finished]);
      await demo.stop();
      throw new CliExit(EXIT_OK);
    });
}

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliExit, EXIT_INVALID, EXIT_OK, EXIT_RUNTIME } from '../exit.js';

const DEMO_SCENARIO = fileURLToPath(new URL('../../../config/examples/scenarios/demo.yaml', import.meta.url));

function wholeNumber(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CliExit(EXIT_INVALID, `--${name} must be a whole number >= ${min}, got "${v}"`);
    return n;
  };
}

/**
 * `gatehouse simulate --config FILE [--scenario FILE] [--seed N] [--duration S]`:
 * replays a crowd on the venue's simulation twin against a real gateway child
 * process (docs/simulator.md). Live lines on stderr, the summary as JSON on stdout.
 */
export function register(program: Command): void {
  program
    .command('simulate')
    .description('replay a crowd on a simulated copy of the venue against a real gateway process and measure it')
    .requiredOption('-c, --config <file>', 'venue config (YAML), e.g. config/examples/stadium.yaml')
    .option('-s, --scenario <file>', 'scenario file (YAML)', DEMO_SCENARIO)
    .option('--seed <n>', 'seed of the crowd (overrides the scenario)', wholeNumber('seed', 0))
    .option('--duration <seconds>', 'arrival window in seconds (overrides the scenario)', wholeNumber('duration', 1))
    .option('--entries <n>', 'credentials presented (overrides the scenario)', wholeNumber('entries', 1))
    .option('--keep', 'keep the run directory (generated config, data, keys)')
    .option('--quiet', 'no live progress lines')
    .action(async (opts: { config: string; scenario: string; seed?: number; duration?: number; entries?: number; keep?: boolean; quiet?: boolean }) => {
      if (!existsSync(opts.config)) throw new CliExit(EXIT_INVALID, `config file ${opts.config} does not exist (GH_CONFIG_NOT_FOUND)`);
      const { loadScenarioFile, formatScenarioProblem } = await import('../../../scripts/simulate/scenario.js');
      const loaded = loadScenarioFile(opts.scenario);
      if (!loaded.ok) {
        for (const p of loaded.problems) process.stderr.write(formatScenarioProblem(opts.scenario, p) + '\n');
        throw new CliExit(EXIT_INVALID);
      }
      const { hasSocat } = await import('../../../test/helpers/pty.js');
      if (!hasSocat()) throw new CliExit(EXIT_RUNTIME, 'gatehouse simulate needs socat for the serial lanes (apt-get install socat) (GH_SIM_GATEWAY)');
      const scenario = {
        ...loaded.scenario,
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.duration !== undefined ? { durationS: opts.duration } : {}),
        ...(opts.entries !== undefined ? { entries: opts.entries } : {}),
      };
      const { runSimulation } = await import('../../../scripts/simulate/simulate.js');
      const { formatSummary } = await import('../../../scripts/simulate/report.js');
      // The first Ctrl-C ends the arrivals and still drains and reports; a second one quits at once.
      const abort = new AbortController();
      const onSigint = () => {
        process.stderr.write('\nstopping the crowd; draining the gateway to central (Ctrl-C again to quit now)\n');
        abort.abort();
        process.once('SIGINT', () => process.exit(130));
      };
      process.once('SIGINT', onSigint);
      let summary;
      try {
        summary = await runSimulation({ venueFile: opts.config, scenario, ...(opts.quiet ? {} : { progress: process.stderr }), keepDir: opts.keep === true, signal: abort.signal });
      } catch (err) {
        throw new CliExit(EXIT_RUNTIME, `simulation failed: ${(err as Error).message}`);
      } finally {
        process.off('SIGINT', onSigint);
      }
      if (!opts.quiet) process.stderr.write(formatSummary(summary));
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      throw new CliExit(EXIT_OK);
    });
}

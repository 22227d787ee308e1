import type { Command } from 'commander';
import { CliExit, EXIT_OK, EXIT_RUNTIME } from '../exit.js';
import { formatReport, runDoctor } from '../../ops/doctor.js';

/** `gatehouse doctor --config FILE [--json]`: checks the machine against a config and explains each fix (docs/deploy.md). */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('check this machine against a config: one line per check (ok / warn / fail / skip) with the fix; exit 1 if anything fails')
    .usage('--config FILE [--json]')
    .requiredOption('-c, --config <file>', 'the gateway config file (YAML)')
    .option('--json', 'print { ok, counts, checks: [{ name, level, detail, fix }] } for machines')
    .action(async (opts: { config: string; json?: boolean }) => {
      const report = await runDoctor(opts.config);
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      const code = report.ok ? EXIT_OK : EXIT_RUNTIME;
      // noble keeps its HCI socket open after the BLE probe and has no close: an unref'd
      // timer ends this one-shot command only if something still holds the event loop.
      if (report.checks.some((c) => c.name === 'ble' && c.level !== 'skip')) setTimeout(() => process.exit(code), 2000).unref();
      throw new CliExit(code, report.ok ? '' : `GH_DOCTOR_FAILED: ${report.counts.fail} check(s) failed; fix them in the order shown`);
    });
}

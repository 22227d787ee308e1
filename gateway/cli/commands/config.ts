import type { Command } from 'commander';
import { configJsonSchema } from '../../../config/schema.js';
import { formatProblem, loadConfigFile, type ConfigProblem } from '../../../config/load.js';
import { CliExit, EXIT_INVALID, EXIT_OK } from '../exit.js';

/** `gatehouse config validate FILE...` and `gatehouse config schema`. */
export function register(program: Command): void {
  const config = program.command('config').description('validate config files and print their JSON Schema');

  config
    .command('validate')
    .description('check config files; prints FILE:LINE:COL: key.path: message for every problem')
    .argument('<files...>', 'config files (YAML)')
    .option('--json', 'print one JSON object for machines: { ok, files: [{ file, ok, problems }] }')
    .action((files: string[], opts: { json?: boolean }) => {
      const results = files.map((file) => {
        const r = loadConfigFile(file);
        return { file, ok: r.ok, problems: r.ok ? ([] as ConfigProblem[]) : r.problems };
      });
      const ok = results.every((r) => r.ok);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ok, files: results }, null, 2) + '\n');
      } else {
        for (const r of results) {
          if (r.ok) process.stdout.write(`${r.file}: ok\n`);
          for (const p of r.problems) process.stderr.write(`${formatProblem(p)}\n`);
        }
      }
      throw new CliExit(ok ? EXIT_OK : EXIT_INVALID);
    });

  config
    .command('schema')
    .description('print the JSON Schema of the config file (for editors: see docs/config.md)')
    .action(() => {
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
    });
}

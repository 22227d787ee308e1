import { Command, CommanderError } from 'commander';
import { CliExit, EXIT_INVALID, EXIT_OK, EXIT_RUNTIME } from './exit.js';
import { isGatehouseError } from '../errors.js';
import { register as registerConfig } from './commands/config.js';
import { register as registerRun } from './commands/run.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerDecode } from './commands/decode.js';
import { register as registerProvision } from './commands/provision.js';
import { register as registerDoctor } from './commands/doctor.js';
import { register as registerDevice } from './commands/device.js';
import { register as registerSync } from './commands/sync.js';
import { register as registerCentral } from './commands/central.js';
import { register as registerSimulate } from './commands/simulate.js';

/**
 * The `gatehouse` CLI. Exit codes: 0 ok, 1 runtime failure, 2 invalid input
 * or config. User errors print a message and a usage line, never a stack trace.
 */
export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse venue gateway: offline access decisions, engagement events and durable sync with the central CRM.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerConfig(program);
  registerRun(program);
  registerBench(program);
  registerDecode(program);
  registerProvision(program);
  registerDoctor(program);
  registerDevice(program);
  registerSync(program);
  registerCentral(program);
  registerSimulate(program);
  program.commands.forEach(applyExitOverride);
  return program;
}

function applyExitOverride(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  cmd.commands.forEach(applyExitOverride);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(err.message + '\n');
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_INVALID;
    }
    if (isGatehouseError(err)) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return err.code.startsWith('GH_CONFIG') || err.code === 'GH_USAGE' ? EXIT_INVALID : EXIT_RUNTIME;
    }
    process.stderr.write(`GH_INTERNAL: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_RUNTIME;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /gateway[\\/]cli[\\/]main\.(ts|js)$|bin[\\/]gatehouse(\.js)?$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`GH_INTERNAL: ${String(err)}\n`);
      process.exitCode = EXIT_RUNTIME;
    },
  );
}

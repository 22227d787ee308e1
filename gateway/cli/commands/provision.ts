import type { Command } from 'commander';
import { CliExit, EXIT_INVALID } from '../exit.js';
import { isGatehouseError } from '../../errors.js';
import { provisionGateway } from '../../ops/provision.js';

interface ProvisionFlags {
  gatewayId: string;
  out: string;
  force?: boolean;
  centralUrl?: string;
  dataDir?: string;
}

const USAGE = 'usage: gatehouse provision --gateway-id ID --out DIR [--force] [--central-url URL] [--data-dir DIR]';

/** `gatehouse provision --gateway-id ID --out DIR [--force] [--central-url URL]` (docs/provisioning.md). */
export function register(program: Command): void {
  program
    .command('provision')
    .description('create a new gateway\'s secrets (mode 0600) and a config file from the template')
    .usage(USAGE.replace('usage: gatehouse provision ', ''))
    .requiredOption('--gateway-id <id>', 'gateway id (a-z, 0-9, "_", "-"; used in event sources, topics and metrics)')
    .requiredOption('--out <dir>', 'directory for gatehouse.yaml and secrets/ (e.g. /etc/gatehouse)')
    .option('--force', 'overwrite existing secrets and config (the old credential key is lost)')
    .option('--central-url <url>', 'URL of the central API (otherwise the central section is left commented out)')
    .option('--data-dir <dir>', 'data directory written into the config', '/var/lib/gatehouse')
    .action((opts: ProvisionFlags) => {
      try {
        const result = provisionGateway({
          gatewayId: opts.gatewayId,
          outDir: opts.out,
          force: opts.force === true,
          ...(opts.centralUrl !== undefined ? { centralUrl: opts.centralUrl } : {}),
          ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
        });
        for (const f of result.files) {
          const note = f.kind === 'placeholder' ? '  <- placeholder: replace with the token from the central team' : '';
          process.stdout.write(`wrote ${f.path} (mode ${f.mode.toString(8).padStart(4, '0')})${note}\n`);
        }
        process.stdout.write(`wrote ${result.schemaFile}\n`);
        process.stdout.write(`next: add devices (gatehouse device add NAME --type sign|kiosk|reader), then gatehouse doctor --config ${result.configFile}\n`);
      } catch (err) {
        if (isGatehouseError(err, 'GH_PROVISION_EXISTS') || isGatehouseError(err, 'GH_USAGE')) {
          const usage = err.code === 'GH_USAGE' ? `\n${USAGE}` : '';
          throw new CliExit(EXIT_INVALID, `${err.code}: ${err.message}${usage}`);
        }
        throw err;
      }
    });
}

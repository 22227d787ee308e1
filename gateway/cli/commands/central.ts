import type { Command } from 'commander';
import { rawPublicKey, startCentralProcess } from '../../../scripts/central/main.js';
import { CliExit, EXIT_INVALID } from '../exit.js';

/** `gatehouse central`: runs the central stand-in by itself (ops demos, rehearsals; docs/sync.md). */
export function register(program: Command): void {
  program
    .command('central')
    .description('run the central CRM stand-in (events API, signed entitlements, change feed) until Ctrl-C')
    .option('--port <n>', 'TCP port (0 = any free port)', '8787')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--token <token>', 'bearer token the gateway must present')
    .option('--signing-key <file>', 'Ed25519 private key (PEM) that signs entitlements; a fresh key is generated when absent')
    .option('--entitlements <file>', 'entitlements to serve: JSON array or NDJSON of records (docs/sync.md)')
    .action(async (opts: { port: string; host: string; token?: string; signingKey?: string; entitlements?: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new CliExit(EXIT_INVALID, `GH_USAGE: --port must be an integer 0-65535, got "${opts.port}"\nusage: gatehouse central [--port N] [--host H] [--token T] [--signing-key FILE] [--entitlements FILE]`);
      }
      const central = await startCentralProcess({
        port,
        host: opts.host,
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.signingKey !== undefined ? { signingKeyFile: opts.signingKey } : {}),
        ...(opts.entitlements !== undefined ? { entitlementsFile: opts.entitlements } : {}),
      });
      process.stdout.write(`central stand-in listening on ${central.url}\npublic key (raw base64, for central.publicKey): ${rawPublicKey(central.publicKey)}\n`);
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await central.close();
    });
}

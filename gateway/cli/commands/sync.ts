import { join } from 'node:path';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { readSecret, readSecretText, resolveFromConfig } from '../../../config/secrets.js';
import { formatProblem, loadConfigFile } from '../../../config/load.js';
import type { GatewayConfig } from '../../../config/schema.js';
import { createDownlink, type SnapshotProgress } from '../../../sync/downlink/downlink.js';
import { parsePublicKey } from '../../../sync/downlink/signature.js';
import { openOutbox, type RequeueResult } from '../../../sync/outbox/outbox.js';
import { readCentralTls } from '../../../sync/config.js';
import type { EntitlementSink } from '../../access/model.js';
import { openEntitlementStore } from '../../access/store.js';
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/log.js';
import { isGatehouseError } from '../../errors.js';
import { checkRunningGateway } from '../../ops/checks/running.js';
import { CliExit, EXIT_INVALID, EXIT_OK, EXIT_RUNTIME } from '../exit.js';

const USAGE = 'usage: gatehouse sync pull --config FILE [--verify-only] [--json]';
const REQUEUE_USAGE = 'usage: gatehouse sync requeue --config FILE (--all | --code GH_...) [--json]';

/**
 * `gatehouse sync pull`: one signed entitlement snapshot from the central side into the local store.
 * `gatehouse sync requeue`: dead-lettered events back into the outbox (docs/sync.md "Dead letters").
 */
export function register(program: Command): void {
  const sync = program.command('sync').description('talk to the central CRM by hand (docs/sync.md)');
  sync
    .command('pull')
    .description('download, verify and apply a signed entitlement snapshot (run it while the gateway is stopped; a running gateway pulls on its own)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .option('--verify-only', 'download and verify the signature, but leave the store untouched')
    .option('--json', 'print one JSON object: { ok, version, cursor, holders, credentials, seconds }')
    .action(async (opts: { config: string; verifyOnly?: boolean; json?: boolean }) => {
      const loaded = loadConfigFile(opts.config);
      if (!loaded.ok) throw new CliExit(EXIT_INVALID, loaded.problems.map(formatProblem).join('\n'));
      const { config, baseDir } = loaded.value;
      const central = config.central;
      if (!central) throw new CliExit(EXIT_INVALID, `GH_CONFIG_INVALID: ${opts.config} has no central section\n${USAGE}`);
      if (!central.publicKey) throw new CliExit(EXIT_INVALID, `GH_CONFIG_INVALID: central.publicKey is required to verify entitlements\n${USAGE}`);

      const log = createLogger({ pretty: false, destination: process.stderr, level: opts.json ? 'warn' : 'info' });
      const clock = systemClock();
      const metrics = new Registry();
      const dataDir = resolveFromConfig(baseDir, config.storage.dataDir);
      const { sink, close } = opts.verifyOnly ? countingSink() : openStore(config, baseDir, dataDir, clock, log, metrics);
      const downlink = createDownlink({
        baseUrl: central.url,
        ...(central.token ? { token: readSecretText(central.token, baseDir) } : {}),
        ...(central.tls ? { tls: readCentralTls(central, baseDir) } : {}),
        publicKey: parsePublicKey(readSecret(central.publicKey, baseDir)),
        sink,
        gatewayId: config.gateway.id,
        clock,
        log,
        metrics,
        raiseAlarm: (a) => log.error({ alarm: a.kind, code: a.code }, a.message),
        stagingDir: `${dataDir}/staging`,
        requestTimeoutMs: central.timeoutMs,
      });
      const bar = !opts.json && process.stderr.isTTY ? progressBar() : undefined;
      const started = performance.now();
      try {
        const r = await downlink.pullSnapshot(bar);
        bar?.done();
        const seconds = Number(((performance.now() - started) / 1000).toFixed(2));
        if (opts.json) process.stdout.write(JSON.stringify({ ok: true, verifyOnly: opts.verifyOnly === true, ...r, seconds }) + '\n');
        else process.stdout.write(`${opts.verifyOnly ? 'verified' : 'applied'} snapshot ${r.version}: ${r.holders} holders, ${r.credentials} credentials in ${seconds} s\n`);
      } catch (err) {
        bar?.done();
        if (opts.json) process.stdout.write(JSON.stringify({ ok: false, code: isGatehouseError(err) ? err.code : 'GH_INTERNAL', message: (err as Error).message }) + '\n');
        throw new CliExit(EXIT_RUNTIME, isGatehouseError(err) ? `${err.code}: ${err.message}` : String(err));
      } finally {
        await downlink.stop();
        close();
      }
      throw new CliExit(EXIT_OK);
    });

  sync
    .command('requeue')
    .description('move dead-lettered events back into the outbox with their original ids, e.g. after fixing a rejected token (run it while the gateway is stopped)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .option('--all', 'every dead letter')
    .option('--code <code>', 'only dead letters with this code, e.g. GH_UPLINK_AUTH')
    .option('--json', 'print one JSON object: { ok, requeued, left, deadLetters }')
    .action(async (opts: { config: string; all?: boolean; code?: string; json?: boolean }) => {
      if ((opts.all === true) === (opts.code !== undefined)) throw new CliExit(EXIT_INVALID, `GH_USAGE: give either --all or --code\n${REQUEUE_USAGE}`);
      const loaded = loadConfigFile(opts.config);
      if (!loaded.ok) throw new CliExit(EXIT_INVALID, loaded.problems.map(formatProblem).join('\n'));
      // The running gateway keeps the outbox's counters (depth, budget) in memory: moving rows under it would make them lie.
      if ((await checkRunningGateway(loaded.value)).running) {
        throw new CliExit(EXIT_RUNTIME, `a gateway is running with ${opts.config} (its admin port answers); stop it, requeue, then start it again`);
      }
      const { config, baseDir } = loaded.value;
      const log = createLogger({ pretty: false, destination: process.stderr, level: 'warn' });
      const outbox = openOutbox({
        path: join(resolveFromConfig(baseDir, config.storage.dataDir), 'outbox.db'),
        ...config.storage.outbox,
        clock: systemClock(),
        log,
        metrics: new Registry(),
        raiseAlarm: (a) => log.error({ alarm: a.kind, code: a.code }, a.message),
      });
      let result: RequeueResult;
      let remaining: Record<string, number>;
      try {
        result = outbox.requeue(opts.code !== undefined ? { code: opts.code } : {});
        remaining = outbox.deadLetterCodes();
      } finally {
        await outbox.close();
      }
      const ok = result.left === 0;
      if (opts.json) process.stdout.write(JSON.stringify({ ok, ...result, deadLetters: remaining }) + '\n');
      else {
        const what = opts.code !== undefined ? `dead letters with ${opts.code}` : 'dead letters';
        process.stdout.write(`requeued ${result.requeued} ${what}${result.left > 0 ? `; ${result.left} did not fit the outbox budget: let it drain, then requeue again` : ''}\n`);
        for (const [code, n] of Object.entries(remaining)) process.stdout.write(`  still dead-lettered: ${n} with ${code}\n`);
      }
      throw new CliExit(ok ? EXIT_OK : EXIT_RUNTIME);
    });
}

function openStore(config: GatewayConfig, baseDir: string, dataDir: string, clock: ReturnType<typeof systemClock>, log: ReturnType<typeof createLogger>, metrics: Registry) {
  const store = openEntitlementStore({ dataDir, key: readSecret(config.secrets.credentialKey, baseDir), clock, log, metrics });
  return { sink: store as EntitlementSink, close: () => store.close() };
}

/** For --verify-only: reads every record (so the format is checked too) and keeps nothing. */
function countingSink(): { sink: EntitlementSink; close: () => void } {
  let cursor: string | undefined;
  return {
    sink: {
      async applySnapshot(records) {
        let holders = 0;
        let credentials = 0;
        for await (const r of records) {
          holders++;
          credentials += r.credentials.length;
        }
        return { holders, credentials };
      },
      applyChanges(_changes, c) {
        cursor = c;
      },
      cursor: () => cursor,
    },
    close: () => undefined,
  };
}

/** A one-line progress bar on stderr for people at a terminal. */
function progressBar(): ((p: SnapshotProgress) => void) & { done: () => void } {
  let last = 0;
  const draw = (p: SnapshotProgress) => {
    const now = performance.now();
    if (now - last < 100) return;
    last = now;
    const mb = (p.bytes / 1024 / 1024).toFixed(1);
    if (p.phase === 'download' && p.totalBytes) {
      const share = Math.min(1, p.bytes / p.totalBytes);
      const filled = Math.round(share * 30);
      process.stderr.write(`\rdownload [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${Math.round(share * 100)}% ${mb} MB ${p.records} lines `);
    } else {
      process.stderr.write(`\r${p.phase} ${mb} MB ${p.records} ${p.phase === 'apply' ? 'records applied' : 'lines'}        `);
    }
  };
  return Object.assign(draw, { done: () => process.stderr.write('\n') });
}

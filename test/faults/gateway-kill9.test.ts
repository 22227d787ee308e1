import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCentralStandIn, type CentralStandIn } from '../../scripts/central/index.js';
import { demoEntitlements } from '../../scripts/demo/venue.js';
import { BIN } from '../helpers/cli.js';
import { demoConfigForTest } from '../helpers/demo-config.js';

const KILLS = 20;
const SECRETS = new URL('../../config/examples/secrets/', import.meta.url);

/**
 * DESIGN.md "Reliability promises": power cut or kill -9 at any moment — every
 * event whose append returned is delivered after restart, and the central
 * side holds no duplicate id. This runs the real `gatehouse run` process with
 * busy simulated readers, kills it with SIGKILL at random moments, restarts it
 * on the same data directory, and finally lets it drain.
 */
describe('kill -9 the gateway while readers are busy', () => {
  let central: CentralStandIn;
  let busyConfig: string;
  let drainConfig: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    const token = readFileSync(new URL('demo-central.token', SECRETS), 'utf8').trim();
    central = await startCentralStandIn({ token, signingKey: createPrivateKey(readFileSync(new URL('demo-central.key', SECRETS))), entitlements: demoEntitlements() });
    const { config, dataDir, baseDir } = demoConfigForTest({ ratePerSecond: 40 });
    const abs = (p: string) => join(baseDir, p);
    const base = {
      ...config,
      secrets: { credentialKey: { file: abs('secrets/demo-credential.key') } },
      central: { ...config.central!, url: central.url, token: { file: abs('secrets/demo-central.token') }, publicKey: { file: abs('secrets/demo-central.pub.pem') } },
      admin: { host: '127.0.0.1', port: 0 },
      storage: { ...config.storage, dataDir },
    };
    busyConfig = join(dataDir, 'busy.yaml');
    drainConfig = join(dataDir, 'drain.yaml');
    writeFileSync(busyConfig, stringify(base));
    // The last run has no readers: it only delivers what the outbox holds.
    writeFileSync(drainConfig, stringify({ ...base, devices: [], lanes: [] }));
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await central?.close();
  });

  /** Runs the gateway; collects the ids it logged as durable; kills it `killAfterMs` after it is running. */
  const run = (config: string, onRunning: (child: ChildProcess, admin: string) => void) =>
    new Promise<Set<string>>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'run', '--config', config], { env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const durable = new Set<string>();
      let buffered = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? ''; // only complete lines count: a torn line was never fully logged
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { msg?: string; eventId?: string; admin?: string };
          if (entry.msg === 'event durable' && entry.eventId) durable.add(entry.eventId);
          if (entry.msg === 'gateway running' && entry.admin) onRunning(child, entry.admin);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`gateway exited with ${code}: ${stderr}`));
        else resolve(durable);
      });
    });

  it(`holds every event the gateway made durable exactly once after ${KILLS} SIGKILLs`, async () => {
    const acknowledged = new Set<string>();
    for (let k = 0; k < KILLS; k++) {
      const durable = await run(busyConfig, (child) => {
        setTimeout(() => child.kill('SIGKILL'), 150 + Math.floor(Math.random() * 600));
      });
      for (const id of durable) acknowledged.add(id);
    }
    expect(acknowledged.size).toBeGreaterThan(KILLS); // readers really were busy

    await run(drainConfig, (child, admin) => {
      const poll = setInterval(() => {
        void fetch(`${admin}/api/status`)
          .then((r) => r.json() as Promise<{ outbox: { depth: number } }>)
          .then((s) => {
            if (s.outbox.depth === 0) {
              clearInterval(poll);
              child.kill('SIGTERM');
            }
          })
          .catch(() => undefined);
      }, 200);
    });

    const stored = central.events().map((e) => e.id);
    expect(new Set(stored).size).toBe(stored.length);
    const storedIds = new Set(stored);
    const missing = [...acknowledged].filter((id) => !storedIds.has(id));
    expect(missing).toEqual([]);
  }, 240_000);
});

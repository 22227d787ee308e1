import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startGateway, type RunningGateway } from '../../gateway/app/gateway.js';
import { watchConfig } from '../../gateway/app/config-watcher.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { ConfigProblem } from '../../config/load.js';
import { demoConfigForTest } from '../helpers/demo-config.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Issue #9 "Change without restart": a reload never stops the decision path. */
describe('config reload on a running gateway', () => {
  let gateway: RunningGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('keeps deciding through repeated reloads, applies valid files and rejects broken ones', async () => {
    const test = demoConfigForTest({ ratePerSecond: 50 });
    const base = { ...test.config, central: undefined, admin: { host: '127.0.0.1', port: 0 } };
    const abs = (p: string) => join(test.baseDir, p);
    const file = join(test.dataDir, 'gatehouse.yaml');
    const write = (capacity: number, extraCredential: string) =>
      writeFileSync(
        file,
        stringify({
          ...base,
          secrets: { credentialKey: { file: abs('secrets/demo-credential.key') } },
          zones: base.zones.map((z) => (z.id === 'centre' ? { ...z, capacity } : z)),
          devices: base.devices.map((d) => (d.id === 'gym-sim' && d.driver === 'sim' ? { ...d, credentials: [...d.credentials, extraCredential] } : d)),
        }),
      );
    write(400, '10:1001');
    const { loadConfigFile } = await import('../../config/load.js');
    const first = loadConfigFile(file);
    if (!first.ok) throw new Error(JSON.stringify(first.problems));
    gateway = await startGateway(first.value, { log: silentLogger(), adminPort: 0 });
    const gw = gateway;

    let decisions = 0;
    gw.bus.on('decision', () => decisions++);
    const rejected: ConfigProblem[][] = [];
    let applied = 0;
    const watcher = watchConfig({
      file,
      sighup: false,
      onValid: async (next) => {
        await gw.reload(next);
        applied++;
      },
      onInvalid: (problems) => rejected.push(problems),
    });
    try {
      for (let i = 0; i < 8; i++) {
        const before = decisions;
        write(400 + i, `10:${2000 + i}`);
        await watcher.reloadNow('signal');
        await sleep(150);
        // Decisions kept flowing across this reload (three readers at 50 reads/s each).
        expect(decisions, `decisions after reload ${i}`).toBeGreaterThan(before);
      }
      expect(applied).toBe(8);
      expect(gw.config.zones.find((z) => z.id === 'centre')?.capacity).toBe(407);

      // A broken file is rejected with the validator's problems; the running config stays.
      writeFileSync(file, 'gateway:\n  id: demo-gw\n  colour: red\n');
      await watcher.reloadNow('file');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.map((p) => p.path)).toContain('gateway.colour');
      const before = decisions;
      await sleep(150);
      expect(decisions).toBeGreaterThan(before);
      expect(gw.config.zones.find((z) => z.id === 'centre')?.capacity).toBe(407);

      const internal = (await gw.metrics.errors.get()).values.filter((v) => v.labels.code === 'GH_INTERNAL');
      expect(internal).toEqual([]);
    } finally {
      watcher.close();
    }
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, type LoadedConfig } from '../../config/load.js';

export const DEMO_YAML = fileURLToPath(new URL('../../config/examples/demo.yaml', import.meta.url));

/**
 * The demo config with a fresh data directory and an ephemeral central port,
 * so tests never share state or ports with each other or with `npm start`.
 */
export function demoConfigForTest(overrides: { ratePerSecond?: number } = {}): LoadedConfig & { dataDir: string } {
  const r = loadConfigFile(DEMO_YAML);
  if (!r.ok) throw new Error(`demo config invalid: ${JSON.stringify(r.problems)}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-demo-'));
  const config = structuredClone(r.value.config);
  config.storage.dataDir = dataDir;
  if (config.central) config.central.url = 'http://127.0.0.1:0';
  if (overrides.ratePerSecond !== undefined) {
    for (const d of config.devices) if (d.driver === 'sim') d.ratePerSecond = overrides.ratePerSecond;
  }
  return { ...r.value, config, dataDir };
}

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../config/load.js';
import type { CheckContext } from '../../gateway/ops/checks/types.js';

/** A minimal valid config; `extra` is appended as more top-level YAML (devices, broker, central...). */
export function configYaml(extra = '', devices = 'devices: []'): string {
  return [
    'gateway:',
    '  id: test-gw',
    'storage:',
    '  dataDir: data',
    'secrets:',
    '  credentialKey: { file: secrets/credential.key }',
    devices,
    'zones:',
    '  - id: main',
    extra,
  ].join('\n');
}

export interface OpsFixture {
  dir: string;
  /** Writes the config as DIR/gatehouse.yaml (and a valid credential key) and returns the context checks get. */
  context(yaml: string, now?: number): CheckContext;
  configFile: string;
  cleanup(): void;
}

/** A temp directory holding a config, its secrets and its data dir, removed by `cleanup`. */
export function opsFixture(): OpsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ops-'));
  const configFile = join(dir, 'gatehouse.yaml');
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  writeFileSync(join(dir, 'secrets/credential.key'), 'k'.repeat(64) + '\n', { mode: 0o600 });
  return {
    dir,
    configFile,
    context(yaml, now = Date.parse('2026-06-01T12:00:00Z')) {
      writeFileSync(configFile, yaml);
      const r = parseConfigText(yaml, configFile);
      if (!r.ok) throw new Error(`fixture config invalid: ${JSON.stringify(r.problems)}`);
      return { loaded: r.value, dataDir: join(dir, 'data'), now };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

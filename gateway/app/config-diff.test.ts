import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import type { GatewayConfig } from '../../config/schema.js';
import { diffConfig, isEmptyDiff } from './config-diff.js';

const base = `gateway: { id: gw }
storage: { dataDir: ./d }
secrets: { credentialKey: { file: k } }
devices:
  - { id: a, driver: sim, credentials: ["1"] }
  - { id: b, driver: sim, credentials: ["2"] }
zones: [{ id: z }]
lanes: [{ id: l, reader: { device: a }, zone: z }]
`;

function cfg(text: string): GatewayConfig {
  const r = parseConfigText(text, 'x.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.value.config;
}

describe('diffConfig', () => {
  it('finds nothing to do for the same file', () => {
    expect(isEmptyDiff(diffConfig(cfg(base), cfg(base)))).toBe(true);
  });

  it('names added, removed and changed devices and leaves the rest alone', () => {
    const next = base.replace('  - { id: b, driver: sim, credentials: ["2"] }\n', '  - { id: c, driver: sim, credentials: ["3"] }\n').replace('credentials: ["1"]', 'credentials: ["1", "9"]');
    const d = diffConfig(cfg(base), cfg(next));
    expect(d.devicesAdded.map((x) => x.id)).toEqual(['c']);
    expect(d.devicesRemoved).toEqual(['b']);
    expect(d.devicesChanged.map((x) => x.id)).toEqual(['a']);
    expect(d.accessChanged).toBe(false);
    expect(d.needsRestart).toEqual([]);
  });

  it('flags lane/zone changes for the access engine and identity changes as needing a restart', () => {
    const d = diffConfig(cfg(base), cfg(base.replace('zones: [{ id: z }]', 'zones: [{ id: z, capacity: 5 }]').replace('id: gw', 'id: gw2')));
    expect(d.accessChanged).toBe(true);
    expect(d.engagementChanged).toBe(true);
    expect(d.needsRestart).toEqual(['gateway']);
  });
});

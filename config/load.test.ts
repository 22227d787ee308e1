import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfigFile, parseConfigText } from './load.js';

const minimal = `gateway:
  id: gw-1
storage:
  dataDir: ./data
secrets:
  credentialKey: { file: key }
zones:
  - id: main
`;

function problems(text: string) {
  const r = parseConfigText(text, 'test.yaml');
  if (r.ok) throw new Error('expected problems');
  return r.problems;
}

describe('config loader', () => {
  it('accepts a minimal config and fills defaults', () => {
    const r = parseConfigText(minimal, '/etc/gatehouse/gw.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.baseDir).toBe('/etc/gatehouse');
    expect(r.value.config.admin).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(r.value.config.zones[0]?.antiPassback.mode).toBe('none');
    expect(r.value.config.storage.outbox.groupCommitMs).toBe(5);
  });

  it('reports an unknown key at its own line and column, with the key path', () => {
    const [p, ...rest] = problems(minimal.replace('  id: gw-1', '  id: gw-1\n  naem: typo'));
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ code: 'GH_CONFIG_INVALID', line: 3, col: 3, path: 'gateway.naem' });
    expect(formatProblem(p!)).toBe('test.yaml:3:3: gateway.naem: unknown key "naem"');
  });

  it('lists every problem, not just the first', () => {
    const text = minimal.replace('  id: gw-1', '  id: "Not An Id"').replace('  - id: main', '  - id: main\n    capacity: -3\n    colour: red');
    const ps = problems(text);
    expect(ps.map((p) => p.path).sort()).toEqual(['gateway.id', 'zones.0.capacity', 'zones.0.colour']);
    const cap = ps.find((p) => p.path === 'zones.0.capacity')!;
    expect([cap.line, cap.col]).toEqual([9, 15]);
  });

  it('points a missing required key at its parent', () => {
    const ps = problems(minimal.replace('storage:\n  dataDir: ./data\n', 'storage: {}\n'));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ path: 'storage.dataDir', line: 3 });
    expect(ps[0]!.message).toMatch(/required/);
  });

  it('reports YAML syntax errors with a position and GH_CONFIG_YAML', () => {
    const ps = problems('gateway:\n  id: gw-1\n  id: gw-2\n');
    expect(ps[0]).toMatchObject({ code: 'GH_CONFIG_YAML', line: 3, col: 3 });
    expect(ps[0]!.message).toMatch(/unique/);
    expect(problems('zones: "open\n')[0]).toMatchObject({ code: 'GH_CONFIG_YAML', message: expect.stringMatching(/quote/) });
  });

  it('rejects duplicate keys, an empty file and a non-object document', () => {
    expect(problems(minimal + 'zones: []\n')[0]?.code).toBe('GH_CONFIG_YAML');
    expect(problems('')[0]?.message).toMatch(/empty/);
    expect(problems('just a string')[0]?.code).toBe('GH_CONFIG_INVALID');
  });

  it('checks references between lanes, devices and zones, and duplicate ids', () => {
    const text =
      minimal +
      `devices:
  - { id: r1, driver: sim, credentials: ["1"] }
  - { id: r1, driver: sim, credentials: ["2"] }
lanes:
  - { id: l1, reader: { device: nope }, zone: elsewhere }
`;
    const ps = problems(text).map((p) => `${p.path}: ${p.message}`);
    expect(ps).toContain('devices.1.id: duplicate id "r1"');
    expect(ps).toContain('lanes.0.reader.device: no device "nope" in devices');
    expect(ps).toContain('lanes.0.zone: no zone "elsewhere" in zones');
  });

  it('reports the specific problem inside a device of a known driver', () => {
    const ps = problems(minimal + 'devices:\n  - { id: r1, driver: sim, credentials: [] , rate: 3 }\n');
    expect(ps.map((p) => p.path).sort()).toEqual(['devices.0.credentials', 'devices.0.rate']);
  });

  it('reports a missing file as GH_CONFIG_NOT_FOUND and reads real files', () => {
    const r = loadConfigFile('/nonexistent/gatehouse.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatchObject({ code: 'GH_CONFIG_NOT_FOUND', message: 'file not found' });
    const dir = mkdtempSync(join(tmpdir(), 'gh-cfg-'));
    writeFileSync(join(dir, 'gw.yaml'), minimal);
    expect(loadConfigFile(join(dir, 'gw.yaml')).ok).toBe(true);
  });
});

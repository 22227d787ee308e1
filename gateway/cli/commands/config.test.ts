import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../test/helpers/cli.js';
import { configJsonSchema } from '../../../config/schema.js';

const examples = ['config/examples/demo.yaml', 'config/examples/stadium.yaml'];

describe('gatehouse config validate', () => {
  it('accepts every example config with exit 0', async () => {
    const r = await runCli(['config', 'validate', ...examples]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(examples.length);
  });

  it('lists every problem of every file as FILE:LINE:COL: key.path: message and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-validate-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'gateway:\n  id: gw\n  colour: red\nstorage: {}\n');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'gateway: [\n');
    const r = await runCli(['config', 'validate', bad, broken, join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${bad}:3:3: gateway.colour: unknown key "colour"`);
    expect(lines.some((l) => l.startsWith(`${bad}:4:10: storage.dataDir:`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${broken}:`))).toBe(true);
    expect(lines).toContain(`${join(dir, 'missing.yaml')}:1:1: (document): file not found`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints machine-readable results with --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-validate-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'gateway: {}\n');
    const r = await runCli(['config', 'validate', '--json', bad]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; files: Array<{ file: string; ok: boolean; problems: Array<{ path: string; line: number }> }> };
    expect(out.ok).toBe(false);
    expect(out.files[0]?.problems.map((p) => p.path)).toContain('gateway.id');
  });

  it('exits 2 with a usage hint on bad arguments', async () => {
    const r = await runCli(['config', 'validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
  });
});

describe('gatehouse config schema', () => {
  it('prints the JSON Schema generated from the loader schema, and docs/config.schema.json is up to date', async () => {
    const r = await runCli(['config', 'schema']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toEqual(configJsonSchema());
    expect(printed.additionalProperties).toBe(false);
    const committed = JSON.parse(readFileSync(new URL('../../../docs/config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed, 'run `npm run schema` to refresh docs/config.schema.json').toEqual(printed);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { formatScenarioProblem, loadScenarioFile, parseScenario } from './scenario.js';

const EXAMPLES = fileURLToPath(new URL('../../config/examples/scenarios/', import.meta.url));

describe('scenario files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-scenario-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the shipped example scenarios', () => {
    for (const name of ['demo.yaml', 'surge.yaml']) {
      const r = loadScenarioFile(join(EXAMPLES, name));
      expect(r.ok, name).toBe(true);
    }
    const surge = loadScenarioFile(join(EXAMPLES, 'surge.yaml'));
    if (!surge.ok) throw new Error('surge.yaml invalid');
    // Issue #10: 60,000 entries in 60 s with hostile traffic switched on.
    expect(surge.scenario).toMatchObject({ entries: 60_000, durationS: 60, hostile: { centralDownForS: 10 } });
    expect(surge.scenario.hostile.kioskMalformedPerSecond).toBeGreaterThan(0);
  });

  it('fills defaults for an empty file', () => {
    const r = parseScenario('');
    expect(r.ok && r.scenario).toMatchObject({ seed: 1, durationS: 60, replicate: 1, mix: { expired: 0.01 } });
  });

  it('names the key, line and column of a bad value', () => {
    const r = parseScenario('name: x\nmix:\n  expired: 1.5\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]).toMatchObject({ path: 'mix.expired', line: 3, column: 12 });
    expect(formatScenarioProblem('s.yaml', r.problems[0]!)).toMatch(/^s\.yaml:3:12: mix\.expired: .*GH_SIM_SCENARIO_INVALID/);
  });

  it('rejects unknown keys (a typo never passes silently)', () => {
    const r = parseScenario('entires: 100\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.message).toMatch(/entires/);
  });

  it('rejects bad-credential shares that add up to more than the crowd', () => {
    const r = parseScenario('mix: { expired: 0.5, blocked: 0.5, unknown: 0.2 }\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.message).join()).toMatch(/more than 1/);
  });

  it('rejects an arrival curve whose ramp and tail overlap', () => {
    expect(parseScenario('arrival: { rampUp: 0.7, tail: 0.5 }\n').ok).toBe(false);
  });

  it('reports YAML syntax errors with a position', () => {
    const r = parseScenario('seed: [1, 2\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.line).toBeGreaterThanOrEqual(1);
  });

  it('turns an unreadable file into a problem, not an exception', () => {
    const r = loadScenarioFile(join(dir, 'missing.yaml'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatScenarioProblem(join(dir, 'missing.yaml'), r.problems[0]!)).toMatch(/cannot read/);
  });

  it('reads a valid file from disk', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'seed: 3\nentries: 10\n');
    const r = loadScenarioFile(file);
    expect(r.ok && r.scenario.entries).toBe(10);
  });
});

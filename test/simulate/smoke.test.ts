import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasSocat } from '../helpers/pty.js';
import { runCli } from '../helpers/cli.js';
import { scenarioSchema } from '../../scripts/simulate/scenario.js';
import { runSimulation } from '../../scripts/simulate/simulate.js';
import { figures } from '../../scripts/bench/surge.js';

const STADIUM = fileURLToPath(new URL('../../config/examples/stadium.yaml', import.meta.url));
const socat = hasSocat();
if (!socat) console.warn('test/simulate: socat is not installed; the simulator smoke run is skipped (apt-get install socat)');

describe.skipIf(!socat)('gatehouse simulate against a real gateway child process', () => {
  it('drives every transport, gets every decision back and every access event to central exactly once', async () => {
    const scenario = scenarioSchema.parse({
      name: 'smoke',
      seed: 3,
      durationS: 3,
      entries: 120,
      mix: { expired: 0.05, blocked: 0.05, passback: 0.05, unknown: 0.05 },
      osdpSecureChannel: false,
      beacons: { advertsPerSecond: 5, appSightingsPerSecond: 2 },
      kiosks: { interactionsPerSecond: 2 },
      // Hostile traffic in a small dose: broken kiosk JSON must not cost a decision. (Garbage on a
      // serial line can spoil the frame it runs into, so it stays out of an exact count.)
      hostile: { kioskMalformedPerSecond: 10 },
      // Cards before the gates open: decided and synced before the run, and in none of the counts below.
      preOpening: { entries: 40, seconds: 1 },
      drainTimeoutS: 30,
    });
    const s = await runSimulation({ venueFile: STADIUM, scenario });
    expect(s.entries).toBe(120);
    expect(s.pre_opening_entries).toBe(40);
    expect(s.lanes_by_transport).toEqual({ osdp: 4, wiegand: 1, serial: 1, mqtt: 2 });
    // Every credential presented became a decision in the gateway...
    expect(s.decisions).toBe(120);
    expect(s.unanswered).toBe(0);
    expect(s.undecided).toBe(0);
    expect(s.granted).toBeGreaterThan(0);
    expect(s.denied).toBeGreaterThan(0);
    // ...and every decision an access event stored once at central.
    expect(s.access_events_at_central).toBe(s.decisions);
    expect(s.lost).toBe(0);
    expect(s.duplicates_at_central).toBe(0);
    expect(s.gateway_errors).toHaveProperty('GH_MQTT_PAYLOAD');
    expect(Object.keys(figures(s))).toEqual(['entries', 'seconds', 'lanes', 'decisions_per_s', 'decision_p99_ms', 'lane_p99_ms', 'central_lag_p95_ms', 'central_lag_p95_ms_outside_outage', 'lost', 'duplicates_at_central', 'rss_mb', 'cpu_pct']);
    expect(s.lane_p99_ms).toBeGreaterThan(0);
    expect(s.rss_mb).toBeGreaterThan(0);
    expect(s.timeline.length).toBeGreaterThan(0);
    // The gateway reports its event loop's busy share and the meter reads it: a real share every second, not the -1 of a missing series.
    for (const p of s.timeline) {
      expect(p.gateway_loop_busy_pct).toBeGreaterThanOrEqual(0);
      expect(p.gateway_loop_busy_pct).toBeLessThanOrEqual(100);
      expect(p.simulator_cpu_pct).toBeGreaterThanOrEqual(0);
    }
    expect(Math.max(...s.timeline.map((p) => p.gateway_loop_busy_pct))).toBeGreaterThan(0);
  }, 120_000);
});

describe('gatehouse simulate: arguments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sim-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explains itself with --help', async () => {
    const r = await runCli(['simulate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: gatehouse simulate \[options\]/);
    expect(r.stdout).toContain('--scenario');
  });

  it('exits 2 naming file, line and key for an invalid scenario', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'entries: -5\n');
    const r = await runCli(['simulate', '--config', STADIUM, '--scenario', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:1:10: entries:`);
    expect(r.stderr).toContain('GH_SIM_SCENARIO_INVALID');
  });

  it('exits 2 for a bad --seed and for a missing config', async () => {
    const seed = await runCli(['simulate', '--config', STADIUM, '--seed', 'abc']);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toMatch(/--seed must be a whole number/);
    const missing = await runCli(['simulate', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('GH_CONFIG_NOT_FOUND');
  });
});

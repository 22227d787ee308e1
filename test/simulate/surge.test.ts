import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasSocat } from '../helpers/pty.js';
import { run } from '../../scripts/bench/surge.js';

const socat = hasSocat();
if (!socat) console.warn('test/simulate: socat is not installed; the surge benchmark smoke run is skipped (apt-get install socat)');

describe.skipIf(!socat)('gatehouse bench surge (shrunk to a smoke run)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-surge-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the issue #10 figures for a short surge and draws its chart', async () => {
    const chart = join(dir, 'surge.svg');
    const r = await run({ entries: 100, seconds: 2, replicate: 1, hostile: false, chart });
    expect(r).toMatchObject({ entries: 100, lanes: 8, lost: 0, duplicates_at_central: 0, hostile: false });
    for (const key of ['seconds', 'decisions_per_s', 'decision_p99_ms', 'lane_p99_ms', 'central_lag_p95_ms', 'rss_mb', 'cpu_pct']) expect(typeof r[key], key).toBe('number');
    // The clean comparison run only happens with hostile traffic on.
    expect(r).not.toHaveProperty('lane_p99_ms_clean');
    expect(r).not.toHaveProperty('detail_clean');
    expect(existsSync(chart)).toBe(true);
    expect(readFileSync(chart, 'utf8')).toContain('Stadium surge: 100 entries');
  }, 120_000);

  it('rejects a scenario file that does not validate', async () => {
    await expect(run({ scenario: join(dir, 'missing.yaml') })).rejects.toThrow(/cannot read/);
  });
});

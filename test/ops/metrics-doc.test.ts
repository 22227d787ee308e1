import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../gateway/app/gateway.js';
import { silentLogger } from '../../gateway/core/log.js';
import { demoConfigForTest } from '../helpers/demo-config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
/** Metrics named in the doc's tables (first column). */
const documented = new Set([...DOC.matchAll(/^\| `(gatehouse_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every quoted `gatehouse_*` metric name in the service's source, with where it appears. */
function metricNamesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of ['gateway', 'drivers', 'sync']) {
    for (const file of sourceFiles(join(ROOT, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/['"`](gatehouse_[a-z0-9_]+)['"`]/g)) {
        const name = m[1]!;
        // The prefix of prom-client's default metrics, documented as a group.
        if (name === 'gatehouse_process_' || name.endsWith('_')) continue;
        if (!found.has(name)) found.set(name, relative(ROOT, file));
      }
    }
  }
  return found;
}

describe('docs/metrics.md', () => {
  it('lists every gatehouse_* metric the source registers', () => {
    const missing = [...metricNamesInSource()].filter(([name]) => !documented.has(name)).map(([name, file]) => `${name} (${file})`);
    expect(missing, 'add these to docs/metrics.md').toEqual([]);
  });

  it('lists no metric that the source no longer has', () => {
    const inSource = metricNamesInSource();
    expect([...documented].filter((name) => !inSource.has(name)), 'remove these from docs/metrics.md').toEqual([]);
  });

  it('gives each metric a type and a meaning', () => {
    for (const row of DOC.split('\n').filter((l) => l.startsWith('| `gatehouse_'))) {
      const cells = row.split('|').map((c) => c.trim());
      expect(['counter', 'gauge', 'histogram', 'summary'], row).toContain(cells[2]);
      expect(cells[4]?.length ?? 0, row).toBeGreaterThan(10);
    }
  });

  it('lists every metric a running demo gateway registers', async () => {
    const loaded = demoConfigForTest({ ratePerSecond: 1 });
    const gateway = await startGateway(loaded, { adminPort: 0, log: silentLogger() });
    try {
      const names = (await gateway.metrics.registry.getMetricsAsJSON()).map((m) => m.name);
      expect(names).toContain('gatehouse_decisions_total');
      expect(names.filter((n) => !n.startsWith('gatehouse_process_') && !documented.has(n)), 'add these to docs/metrics.md').toEqual([]);
      expect(names.filter((n) => !n.startsWith('gatehouse_'))).toEqual([]);
    } finally {
      await gateway.stop();
      rmSync(loaded.dataDir, { recursive: true, force: true });
    }
  });
});

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }>; gridPos: { x: number; w: number } }>;
  };

  it('queries only metrics that docs/metrics.md lists (or the process defaults)', () => {
    const inSource = metricNamesInSource();
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        for (const m of t.expr.matchAll(/gatehouse_[a-z0-9_]+/g)) {
          const name = m[0].replace(/_(bucket|sum|count)$/, '');
          if (name.startsWith('gatehouse_process_')) continue;
          expect(documented.has(name) && inSource.has(name), `${panel.title}: ${name}`).toBe(true);
        }
      }
    }
  });

  it('every panel is filtered by the gateway variable and fits the 24-column grid', () => {
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      for (const t of panel.targets) expect(t.expr, panel.title).toContain('instance=~"$gateway"');
    }
  });
});

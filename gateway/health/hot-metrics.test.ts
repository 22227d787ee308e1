import fc from 'fast-check';
import { Counter, Registry, type Gauge } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotGauge, sharedHotCounter } from './hot-metrics.js';

type Value = { labels: Partial<Record<string, string | number>>; value: number };
const sorted = (vs: Value[]) => vs.map((v) => `${JSON.stringify(Object.entries(v.labels).sort())}=${v.value}`).sort();

describe('HotCounter', () => {
  it('shows its increments and its cells on a scrape, in the exposition format', async () => {
    const registry = new Registry();
    const c = new HotCounter(registry, { name: 'x_total', help: 'x', labelNames: ['result', 'lane'] });
    c.inc({ result: 'granted', lane: 'n1' });
    c.inc({ lane: 'n1', result: 'granted' }, 2);
    const cell = c.cell({ result: 'denied', lane: 'n2' });
    cell.value++;
    cell.value++;
    const text = await registry.metrics();
    expect(text).toContain('# TYPE x_total counter');
    expect(text).toContain('x_total{result="granted",lane="n1"} 3');
    expect(text).toContain('x_total{result="denied",lane="n2"} 2');
    // A second scrape reports the same totals, not twice them.
    expect(await registry.metrics()).toBe(text);
    expect(sorted((await c.get()).values)).toEqual(sorted([
      { labels: { result: 'granted', lane: 'n1' }, value: 3 },
      { labels: { result: 'denied', lane: 'n2' }, value: 2 },
    ]));
  });

  it('refuses a metric without labels (prom-client\'s own counter is as cheap there)', () => {
    expect(() => new HotCounter(new Registry(), { name: 'z_total', help: 'z', labelNames: [] })).toThrow(/at least one label/);
  });

  it('refuses to go down', () => {
    const c = new HotCounter(new Registry(), { name: 'y_total', help: 'y', labelNames: ['a'] });
    expect(() => c.inc({ a: '1' }, -1)).toThrow(RangeError);
    expect(() => c.inc({ a: '1' }, Number.NaN)).toThrow(RangeError);
  });

  it('reports what a prom-client Counter given the same increments reports (property)', async () => {
    const labelValue = fc.constantFrom('a', 'b', 'c', 'n1', 'lane-10', 'ok');
    const step = fc.record({ result: labelValue, lane: labelValue, by: fc.integer({ min: 0, max: 5 }), viaCell: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const registry = new Registry();
        const hot = new HotCounter(registry, { name: 'hot_total', help: 'h', labelNames: ['result', 'lane'] });
        const plain = new Counter({ name: 'plain_total', help: 'p', labelNames: ['result', 'lane'], registers: [registry] });
        for (const s of steps) {
          if (s.viaCell) hot.cell({ result: s.result, lane: s.lane }).value += s.by;
          else hot.inc({ result: s.result, lane: s.lane }, s.by);
          plain.inc({ result: s.result, lane: s.lane }, s.by);
        }
        expect(sorted((await hot.get()).values)).toEqual(sorted((await plain.get()).values));
      }),
    );
  });
});

describe('HotGauge', () => {
  it('reports the last value set for each label set', async () => {
    const registry = new Registry();
    const g = new HotGauge(registry, { name: 'seen_seconds', help: 's', labelNames: ['device', 'reader'] });
    g.set({ device: 'd1', reader: '' }, 10);
    g.set({ device: 'd1', reader: '' }, 12.5);
    g.set({ device: 'd2', reader: '1' }, 3);
    const metric = registry.getSingleMetric('seen_seconds') as Gauge;
    expect(sorted((await metric.get()).values)).toEqual(sorted([
      { labels: { device: 'd1', reader: '' }, value: 12.5 },
      { labels: { device: 'd2', reader: '1' }, value: 3 },
    ]));
  });
});

describe('sharedHotCounter', () => {
  it('hands every caller on one registry the same counter, and another registry its own', async () => {
    const r1 = new Registry();
    const r2 = new Registry();
    const config = { name: 'shared_total', help: 's', labelNames: ['device'] as const };
    const a = sharedHotCounter(r1, config);
    expect(sharedHotCounter(r1, config)).toBe(a);
    const b = sharedHotCounter(r2, config);
    expect(b).not.toBe(a);
    a.inc({ device: 'bus-1' });
    sharedHotCounter(r1, config).inc({ device: 'bus-2' });
    expect(await r1.metrics()).toMatch(/shared_total\{device="bus-1"\} 1\nshared_total\{device="bus-2"\} 1/);
    expect(await r2.metrics()).not.toContain('device=');
  });
});

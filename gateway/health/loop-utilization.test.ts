import { Registry, type Gauge } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startLoopUtilization, type LoopUtilization } from './loop-utilization.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('startLoopUtilization', () => {
  let u: LoopUtilization | undefined;
  afterEach(() => u?.stop());

  it('reads an idle loop as nearly 0 and a loop kept busy as nearly 1, per sample and over the window', async () => {
    const registry = new Registry();
    u = startLoopUtilization(registry, { everyMs: 100, samples: 4 });
    await sleep(450);
    expect(u.current().last).toBeLessThan(0.3);
    expect(u.current().mean).toBeLessThan(0.3);
    // Busy for three samples in a row: the timer fires between the spins, so each sample sees a busy loop.
    for (let i = 0; i < 6; i++) {
      spin(150);
      await sleep(1);
    }
    expect(u.current().last).toBeGreaterThan(0.6);
    expect(u.current().mean).toBeGreaterThan(0.5);
    const values = (await (registry.getSingleMetric('gatehouse_event_loop_utilization') as Gauge).get()).values;
    expect(values.map((v) => v.labels.window).sort()).toEqual(['0.1s', '0.4s']);
    expect(values.find((v) => v.labels.window === '0.1s')!.value).toBe(u.current().last);
  });

  it('reports 0 before its first sample and stops sampling when stopped', async () => {
    const registry = new Registry();
    u = startLoopUtilization(registry, { everyMs: 50, samples: 2 });
    expect(u.current()).toEqual({ last: 0, mean: 0 });
    expect(await registry.metrics()).toContain('gatehouse_event_loop_utilization{window="0.05s"} 0');
    u.stop();
    spin(120);
    await sleep(120);
    expect(u.current()).toEqual({ last: 0, mean: 0 });
  });
});

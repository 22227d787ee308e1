import { describe, expect, it } from 'vitest';
import { startGateway } from '../../gateway/app/gateway.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { RealtimeResult } from '../../gateway/ops/thread-priority.js';
import { demoConfigForTest } from '../helpers/demo-config.js';

/** `gateway.realtimePriority`: asked for at start-up, and a refusal is counted, not fatal. (The real chrt call is tested in thread-priority.test.ts, on another process.) */
describe('gateway.realtimePriority', () => {
  async function startWith(priority: number | undefined, answer: RealtimeResult) {
    const loaded = demoConfigForTest({ ratePerSecond: 1 });
    if (priority !== undefined) loaded.config.gateway.realtimePriority = priority;
    const asked: number[] = [];
    const gateway = await startGateway(loaded, {
      adminPort: 0,
      log: silentLogger(),
      raisePriority: (p) => {
        asked.push(p);
        return answer;
      },
    });
    try {
      const errors = await gateway.metrics.errors.get();
      const refusals = errors.values.find((v) => v.labels.code === 'GH_RT_PRIORITY')?.value ?? 0;
      return { asked, refusals };
    } finally {
      await gateway.stop();
    }
  }

  it('asks for the configured priority once at start-up', async () => {
    expect(await startWith(10, { ok: true, priority: 10 })).toEqual({ asked: [10], refusals: 0 });
  });

  it('runs at normal priority when refused, counting GH_RT_PRIORITY', async () => {
    expect(await startWith(10, { ok: false, reason: 'chrt refused (exit 1): Operation not permitted' })).toEqual({ asked: [10], refusals: 1 });
  });

  it('leaves the priority alone when the config does not ask', async () => {
    expect(await startWith(undefined, { ok: true, priority: 1 })).toEqual({ asked: [], refusals: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import { Health } from './health.js';

describe('Health', () => {
  it('is ok with no conditions and degraded while any component fails', () => {
    let t = 1000;
    const h = new Health(() => t);
    expect(h.snapshot().status).toBe('ok');
    h.set('outbox', 'fail', 'disk full', 'GH_STORE_DISK_FULL');
    h.set('clock', 'warn', 'not synchronised');
    const s = h.snapshot();
    expect(s.status).toBe('degraded');
    expect(s.failing).toEqual([{ component: 'outbox', level: 'fail', reason: 'disk full', code: 'GH_STORE_DISK_FULL', since: 1000 }]);
    expect(s.warnings.map((w) => w.component)).toEqual(['clock']);
    t = 2000;
    h.set('outbox', 'fail', 'disk full', 'GH_STORE_DISK_FULL');
    expect(h.snapshot().failing[0]?.since).toBe(1000);
    h.set('outbox', 'ok');
    expect(h.snapshot().status).toBe('ok');
  });
});

import { describe, expect, it } from 'vitest';
import { run } from './engagement.js';

describe('bench engagement (smoke)', () => {
  it('returns the figures issue #7 asks for, with no flaps and every trigger received over MQTT', async () => {
    const r = await run({ phones: 200, zones: 5, seconds: 30, triggers: 5 });
    expect(r).toMatchObject({ phones: 200, zones: 5, zone_flaps: 0, wrong_zone_enters: 0, trigger_samples: 5 });
    expect(r.adverts).toBe(200 * 2 * 30);
    expect(r.zone_enters).toBe(r.zone_exits);
    for (const key of ['adverts_per_s', 'trigger_p99_ms', 'rss_mb']) expect(typeof r[key]).toBe('number');
  });
});

import { describe, expect, it } from 'vitest';
import { laneSchema, zoneSchema } from './access.js';

describe('access config sections', () => {
  it('fills zone and lane defaults', () => {
    expect(zoneSchema.parse({ id: 'main' })).toMatchObject({ antiPassback: { mode: 'none' } });
    expect(laneSchema.parse({ id: 'l1', reader: { device: 'd' }, zone: 'main' })).toMatchObject({ direction: 'in', maxCacheAgeHours: 72 });
  });

  it('requires minutes for timed anti-passback and names the key', () => {
    const result = zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'timed' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['antiPassback', 'minutes']);
    expect(zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'timed', minutes: 5 } }).success).toBe(true);
  });

  it('takes resetAfterHours for hard and soft anti-passback only, and names the key', () => {
    expect(zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'hard', resetAfterHours: 12 } }).success).toBe(true);
    expect(zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'soft', resetAfterHours: 12 } }).success).toBe(true);
    const timed = zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'timed', minutes: 5, resetAfterHours: 12 } });
    expect(timed.success).toBe(false);
    expect(timed.error?.issues[0]?.path).toEqual(['antiPassback', 'resetAfterHours']);
    expect(zoneSchema.safeParse({ id: 'main', antiPassback: { mode: 'hard', resetAfterHours: 0 } }).success).toBe(false);
  });

  it('rejects an unknown fail mode', () => {
    expect(laneSchema.safeParse({ id: 'l1', reader: { device: 'd' }, zone: 'main', fail: 'maybe' }).success).toBe(false);
  });
});

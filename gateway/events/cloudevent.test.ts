import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventFactory, pooledRandom, ulidFactory } from './cloudevent.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('event ids', () => {
  it('pooled random values are bytes / 256 and cover every ULID symbol', () => {
    const next = pooledRandom(64);
    const symbols = new Set<number>();
    for (let i = 0; i < 64 * 50; i++) {
      const v = next();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      expect(Number.isInteger(v * 256)).toBe(true);
      symbols.add(Math.floor(v * 32));
    }
    expect(symbols.size).toBe(32);
  });

  it('pools are refilled: two sources and two pages do not repeat each other', () => {
    const a = pooledRandom(32);
    const b = pooledRandom(32);
    const pageA1 = Array.from({ length: 32 }, a);
    const pageA2 = Array.from({ length: 32 }, a);
    const pageB1 = Array.from({ length: 32 }, b);
    expect(pageA2).not.toEqual(pageA1);
    expect(pageB1).not.toEqual(pageA1);
  });

  it('ids are valid, unique and sorted in the order they were made, whatever the timestamps', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 300 }), (steps) => {
        const next = ulidFactory();
        let t = 1_790_000_000_000;
        const ids = steps.map((dt) => next((t += dt)));
        for (const id of ids) expect(id).toMatch(ULID);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual(ids);
      }),
    );
  });

  it('events from the factory carry those ids', () => {
    const make = eventFactory('gw-1', () => 1_790_000_000_000);
    const e = make({ type: 'com.gatehouse.test', origin: 'test', data: {} } as Parameters<typeof make>[0]);
    expect(e.id).toMatch(ULID);
    expect(e.source).toBe('gatehouse://gw-1/test');
  });
});

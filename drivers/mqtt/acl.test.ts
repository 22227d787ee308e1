import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, filterCovers, isValidFilter, resolveGrants, topicMatches } from './acl.js';

const level = fc.constantFrom('gatehouse', 'gw1', 'gw2', 'r1', 's1', 'scan', 'content', 'status', 'x', '');
const topic = fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join('/'));
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 6 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'));

describe('topicMatches (MQTT 3.1.1 §4.7)', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', 'a', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['a/b', 'a/c', false],
  ])('%s matches %s: %s', (f, t, expected) => {
    expect(topicMatches(f, t)).toBe(expected);
  });
});

describe('filterCovers', () => {
  it('is sound: when granted covers requested, every topic requested matches is matched by granted', () => {
    fc.assert(
      fc.property(filter, filter, topic, (granted, requested, t) => {
        if (filterCovers(granted, requested) && topicMatches(requested, t)) expect(topicMatches(granted, t)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('covers a filter by itself', () => {
    fc.assert(fc.property(filter, (f) => filterCovers(f, f)));
  });
});

describe('isValidFilter', () => {
  it.each([
    ['a/#', true],
    ['a/+/b', true],
    ['#', true],
    ['a/#/b', false],
    ['a/b#', false],
    ['a+/b', false],
    ['', false],
  ])('%s -> %s', (f, ok) => expect(isValidFilter(f)).toBe(ok));
});

describe('device ACL', () => {
  const r1 = { deviceId: 'r1', grants: resolveGrants([{ topic: 'gatehouse/{gateway}/_gateway/status', access: 'subscribe' }, { topic: 'gatehouse/{gateway}/venue/chat', access: 'both' }], 'gw1') };

  it('lets a device publish in its own subtree except on gateway-owned leaves', () => {
    expect(canPublish(r1, 'gw1', 'gatehouse/gw1/r1/scan').ok).toBe(true);
    expect(canPublish(r1, 'gw1', 'gatehouse/gw1/r1/debug/x').ok).toBe(true);
    for (const leaf of ['decision', 'content', 'error']) expect(canPublish(r1, 'gw1', `gatehouse/gw1/r1/${leaf}`).ok).toBe(false);
  });

  it('honours grant directions', () => {
    expect(canPublish(r1, 'gw1', 'gatehouse/gw1/venue/chat').ok).toBe(true);
    expect(canSubscribe(r1, 'gw1', 'gatehouse/gw1/venue/chat').ok).toBe(true);
    expect(canPublish(r1, 'gw1', 'gatehouse/gw1/_gateway/status').ok).toBe(false);
    expect(canSubscribe(r1, 'gw1', 'gatehouse/gw1/_gateway/status').ok).toBe(true);
  });

  it('denies $-topics whatever the grants', () => {
    expect(canPublish(r1, 'gw1', '$SYS/broker/x').ok).toBe(false);
    expect(canSubscribe(r1, 'gw1', '$SYS/#').ok).toBe(false);
    expect(canSubscribe(r1, 'gw1', '$share/g/gatehouse/gw1/r1/#').ok).toBe(false);
  });

  it('never grants a filter that could receive another device topic or another gateway topic (property)', () => {
    const noGrants = { deviceId: 'r1', grants: [] };
    fc.assert(
      fc.property(filter, fc.constantFrom('s1', 'r2', '_gateway'), fc.constantFrom('scan', 'content', 'decision', 'status'), (f, other, leaf) => {
        if (!canSubscribe(noGrants, 'gw1', f).ok) return;
        expect(topicMatches(f, `gatehouse/gw1/${other}/${leaf}`)).toBe(false);
        expect(topicMatches(f, `gatehouse/gw2/r1/${leaf}`)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('never lets a device publish outside its subtree without a grant (property)', () => {
    const noGrants = { deviceId: 'r1', grants: [] };
    fc.assert(
      fc.property(topic, (t) => {
        if (canPublish(noGrants, 'gw1', t).ok) expect(t.startsWith('gatehouse/gw1/r1/')).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ruleSchema, type RuleConfig } from '../../config/sections/engagement.js';
import type { HolderInfo } from '../engagement/holders.js';
import { compileRules, holdoutHash, inControlGroup, compileRule, type RuleFacts } from './compile.js';
import { RulesEngine } from './engine.js';
import { localTimeSource, windowMatcher } from './localtime.js';

const rule = (r: Record<string, unknown>): RuleConfig => ruleSchema.parse({ id: 'r1', send: { content: 'promo', signs: ['sign-1'] }, when: { event: 'zone.entered' }, ...r });
const consenting: HolderInfo = { tier: 'gold', consent: { personalisation: true }, displayName: 'Ada', attributes: { breakfast: 'seldom' } };
// 2026-11-23 is a Monday; 08:30 UTC.
const MONDAY_0830 = Date.UTC(2026, 10, 23, 8, 30);

function engine(rules: RuleConfig[], quietHours: Array<{ from: string; to: string }> = []) {
  return new RulesEngine(compileRules(rules, { timeZone: 'UTC', quietHours }));
}

const facts = (over: Partial<RuleFacts> = {}): RuleFacts => ({ event: 'zone.entered', zone: 'cafe', holderRef: 'h1', holder: consenting, nowMs: MONDAY_0830, monoAt: 1_000_000, ...over });

describe('rule matching', () => {
  it('matches on event, zone, lane, tier, visit count, time window, attributes and kiosk item/action', () => {
    const r = compileRule(
      rule({
        when: {
          event: ['zone.entered', 'kiosk.interaction'],
          zones: ['cafe'],
          lanes: ['l1'],
          tiers: ['gold'],
          visitCount: { min: 2, max: 5 },
          timeWindows: [{ from: '06:00', to: '11:00', days: [1, 2, 3, 4, 5] }],
          attributes: { breakfast: 'seldom' },
          item: 'scarf',
          action: 'view',
        },
      }),
    );
    const local = () => ({ minutes: 8 * 60 + 30, day: 1 });
    const ok = facts({ lane: 'l1', visitCount: 3, item: 'scarf', action: 'view' });
    expect(r.matches(ok, local)).toBe(true);
    for (const bad of [
      { zone: 'bar' },
      { lane: 'l2' },
      { holder: { ...consenting, tier: 'silver' } },
      { visitCount: 6 },
      { visitCount: undefined },
      { holder: { ...consenting, attributes: { breakfast: 'often' } } },
      { item: 'hat' },
      { action: 'buy' },
    ]) {
      expect(r.matches({ ...ok, ...bad }, local)).toBe(false);
    }
    expect(r.matches(ok, () => ({ minutes: 12 * 60, day: 1 }))).toBe(false);
    expect(r.matches(ok, () => ({ minutes: 8 * 60, day: 0 }))).toBe(false);
  });

  it('indexes enabled rules by event, highest priority first', () => {
    const set = compileRules([rule({ id: 'low', priority: 1 }), rule({ id: 'high', priority: 900 }), rule({ id: 'off', enabled: false }), rule({ id: 'visit', when: { event: 'visit.started' } })], { timeZone: 'UTC' });
    expect(set.byEvent.get('zone.entered')!.map((r) => r.id)).toEqual(['high', 'low']);
    expect(set.byEvent.get('visit.started')!.map((r) => r.id)).toEqual(['visit']);
    expect(set.size).toBe(3);
  });

  it('handles windows that wrap past midnight, naming the day they start', () => {
    const m = windowMatcher({ from: '22:00', to: '02:00', days: [5] });
    expect(m({ minutes: 23 * 60, day: 5 })).toBe(true);
    expect(m({ minutes: 60, day: 6 })).toBe(true);
    expect(m({ minutes: 60, day: 5 })).toBe(false);
    expect(m({ minutes: 12 * 60, day: 5 })).toBe(false);
    expect(windowMatcher({ from: '00:00', to: '00:00' })({ minutes: 5, day: 3 })).toBe(true);
  });

  it('computes local time in the gateway time zone', () => {
    const tokyo = localTimeSource('Asia/Tokyo');
    expect(tokyo(MONDAY_0830)).toEqual({ minutes: 17 * 60 + 30, day: 1 });
    const ny = localTimeSource('America/New_York');
    expect(ny(MONDAY_0830)).toEqual({ minutes: 3 * 60 + 30, day: 1 });
    expect(ny(MONDAY_0830 + 1000)).toBe(ny(MONDAY_0830));
  });
});

describe('control group', () => {
  it('holds out a share of holders close to the configured percentage, deterministically per holder and rule', () => {
    const r = compileRule(rule({ id: 'cafe', controlGroupPercent: 20 }));
    let held = 0;
    for (let i = 0; i < 10_000; i++) if (inControlGroup(r, `holder-${i}`)) held++;
    expect(held).toBeGreaterThan(1_800);
    expect(held).toBeLessThan(2_200);
    fc.assert(
      fc.property(fc.string(), fc.string(), (p, id) => {
        expect(holdoutHash(p, id)).toBe(holdoutHash(p, id));
      }),
    );
    expect(inControlGroup(compileRule(rule({ controlGroupPercent: 0 })), 'x')).toBe(false);
    expect(inControlGroup(compileRule(rule({ controlGroupPercent: 100 })), 'x')).toBe(true);
  });

  it('withholds content from the control group and still counts the opportunity against caps', () => {
    const e = engine([rule({ id: 'all-held', controlGroupPercent: 100, cooldownS: 60 })]);
    expect(e.evaluate(facts())).toEqual([expect.objectContaining({ kind: 'withheld', signs: ['sign-1'], content: 'promo', reason: 'control_group' })]);
    expect(e.evaluate(facts({ monoAt: 1_010_000 }))).toEqual([expect.objectContaining({ kind: 'suppressed', reason: 'cooldown' })]);
  });
});

describe('RulesEngine', () => {
  it('sends named content to every named sign, with personal vars only for a consenting holder', () => {
    const e = engine([rule({ send: { content: 'welcome', signs: ['s1', 's2'], durationMs: 5000, vars: { greeting: 'Hi {name} ({tier}, visit {visitCount}) at {zone}' } } })]);
    const out = e.evaluate(facts({ visitCount: 4 }));
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ kind: 'send', sign: 's1', content: { content: 'welcome', durationMs: 5000, priority: 100, ruleId: expect.any(String), holderRef: 'h1', vars: { greeting: 'Hi Ada (gold, visit 4) at cafe' } } });
    const ids = out.map((o) => (o.kind === 'send' ? o.content.contentId : ''));
    expect(new Set(ids).size).toBe(2);
  });

  it('triggers no personalised content without consent, and generic rules never carry the holder', () => {
    const e = engine([
      rule({ id: 'personal' }),
      rule({ id: 'generic', personalised: false, send: { content: 'menu', signs: ['s9'], vars: { v: '{name}@{zone}' } } }),
    ]);
    const out = e.evaluate(facts({ holder: { consent: { personalisation: false }, displayName: 'Ada' } }));
    expect(out).toContainEqual(expect.objectContaining({ kind: 'suppressed', reason: 'no_consent' }));
    const generic = out.find((o) => o.kind === 'send');
    expect(generic && generic.kind === 'send' && generic.content).toMatchObject({ content: 'menu', vars: { v: '@cafe' } });
    expect(generic && generic.kind === 'send' && 'holderRef' in generic.content).toBe(false);
    expect(e.evaluate(facts({ holder: undefined, holderRef: undefined, person: 'beacon:x' }))).toContainEqual(expect.objectContaining({ kind: 'suppressed', reason: 'no_consent' }));
  });

  it('enforces per-holder caps, per-sign caps and cooldowns over sliding windows', () => {
    const e = engine([rule({ id: 'r', send: { content: 'x', signs: ['s'], durationMs: 1000 }, caps: { perHolder: { count: 2, windowS: 3600 }, perSign: { count: 3, windowS: 60 } } })]);
    const kinds = (f: RuleFacts) => e.evaluate(f).map((o) => (o.kind === 'suppressed' ? o.reason : o.kind));
    expect(kinds(facts({ monoAt: 0 }))).toEqual(['send']);
    expect(kinds(facts({ monoAt: 500, holderRef: 'h9' }))).toEqual(['sign_busy']);
    expect(kinds(facts({ monoAt: 20_000 }))).toEqual(['send']);
    expect(kinds(facts({ monoAt: 40_000 }))).toEqual(['holder_cap']);
    expect(kinds(facts({ monoAt: 45_000, holderRef: 'h2' }))).toEqual(['send']);
    expect(kinds(facts({ monoAt: 50_000, holderRef: 'h3' }))).toEqual(['sign_cap']);
    expect(kinds(facts({ monoAt: 61_000, holderRef: 'h3' }))).toEqual(['send']);
    expect(kinds(facts({ monoAt: 3_600_000 }))).toEqual(['send']);

    const c = engine([rule({ id: 'cool', cooldownS: 30, send: { content: 'x', signs: ['s'], durationMs: 1000 } })]);
    expect(c.evaluate(facts({ monoAt: 0 }))[0]!.kind).toBe('send');
    expect(c.evaluate(facts({ monoAt: 29_999 }))[0]).toMatchObject({ kind: 'suppressed', reason: 'cooldown' });
    expect(c.evaluate(facts({ monoAt: 30_000 }))[0]!.kind).toBe('send');
  });

  it('gives a sign to the highest-priority rule for one event, and lets higher priority pre-empt a busy sign', () => {
    const e = engine([
      rule({ id: 'low', priority: 10, send: { content: 'low', signs: ['s1'], durationMs: 60_000 } }),
      rule({ id: 'high', priority: 500, when: { event: 'zone.entered', tiers: ['gold'] }, send: { content: 'high', signs: ['s1'], durationMs: 60_000 } }),
    ]);
    const first = e.evaluate(facts({ monoAt: 0, holder: { ...consenting, tier: 'silver' } }));
    expect(first.map((o) => (o.kind === 'send' ? o.content.content : o.kind))).toEqual(['low']);
    const second = e.evaluate(facts({ monoAt: 1000, holderRef: 'h2' }));
    expect(second.map((o) => (o.kind === 'send' ? o.content.content : o.kind === 'suppressed' ? o.reason : o.kind))).toEqual(['high', 'sign_busy']);
  });

  it('sends nothing during global or rule quiet hours', () => {
    expect(engine([rule({})], [{ from: '08:00', to: '09:00' }]).evaluate(facts())).toEqual([expect.objectContaining({ reason: 'quiet_hours' })]);
    expect(engine([rule({ quietHours: [{ from: '08:00', to: '09:00' }] })]).evaluate(facts())).toEqual([expect.objectContaining({ reason: 'quiet_hours' })]);
    expect(engine([rule({ quietHours: [{ from: '09:00', to: '10:00' }] })]).evaluate(facts())[0]!.kind).toBe('send');
  });

  it('returns nothing for events no rule listens to, and keeps caps across a reload', () => {
    const e = engine([rule({ id: 'r', cooldownS: 60 })]);
    expect(e.evaluate(facts({ event: 'visit.ended' }))).toEqual([]);
    e.evaluate(facts({ monoAt: 0 }));
    e.replace(compileRules([rule({ id: 'r', cooldownS: 60 })], { timeZone: 'UTC' }));
    expect(e.ruleCount).toBe(1);
    expect(e.evaluate(facts({ monoAt: 10_000 }))[0]).toMatchObject({ reason: 'cooldown' });
    e.sweep(10_000_000_000);
    expect(e.evaluate(facts({ monoAt: 10_000_000_001 }))[0]!.kind).toBe('send');
  });
});

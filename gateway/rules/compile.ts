import { createHash } from 'node:crypto';
import type { RULE_EVENT_NAMES, RuleConfig, TimeWindow } from '../../config/sections/engagement.js';
import type { HolderInfo } from '../engagement/holders.js';
import { localTimeSource, windowMatcher, type LocalTime } from './localtime.js';

export type RuleEventName = (typeof RULE_EVENT_NAMES)[number];

/** What a rule is matched against: one engagement fact about one person. */
export interface RuleFacts {
  event: RuleEventName;
  zone?: string;
  lane?: string;
  holderRef?: string;
  /** Stable key of the person for hold-out and caps: the holder ref, or a pseudonymous device key. */
  person?: string;
  holder?: HolderInfo;
  visitCount?: number;
  item?: string;
  action?: string;
  /** Wall-clock ms (time windows, quiet hours) and monotonic ms (caps, cooldowns). */
  nowMs: number;
  monoAt: number;
}

type Predicate = (f: RuleFacts, local: () => LocalTime) => boolean;

export interface CompiledRule {
  id: string;
  config: RuleConfig;
  priority: number;
  matches(f: RuleFacts, local: () => LocalTime): boolean;
  /** True during this rule's own quiet hours. */
  quiet(t: LocalTime): boolean;
  /** Holders whose hold-out hash falls below this are the control group. */
  holdoutBelow: number;
}

export interface CompiledRuleSet {
  /** Enabled rules per event name, highest priority first (ties by id, so the order is stable). */
  byEvent: Map<RuleEventName, CompiledRule[]>;
  localTime(nowMs: number): LocalTime;
  /** True during the gateway-wide quiet hours. */
  quiet(t: LocalTime): boolean;
  size: number;
}

/**
 * Compiles rules once (start, reload) into predicate chains indexed by event,
 * so evaluating an event touches only the rules that can match it.
 */
export function compileRules(rules: RuleConfig[], options: { timeZone: string; quietHours?: TimeWindow[] }): CompiledRuleSet {
  const byEvent = new Map<RuleEventName, CompiledRule[]>();
  let size = 0;
  for (const rule of rules) {
    if (!rule.enabled) continue;
    const compiled = compileRule(rule);
    size++;
    const events = Array.isArray(rule.when.event) ? rule.when.event : [rule.when.event];
    for (const e of new Set(events)) {
      const list = byEvent.get(e) ?? [];
      list.push(compiled);
      byEvent.set(e, list);
    }
  }
  for (const list of byEvent.values()) list.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : 1));
  const global = (options.quietHours ?? []).map(windowMatcher);
  return { byEvent, localTime: localTimeSource(options.timeZone), quiet: (t) => global.some((m) => m(t)), size };
}

export function compileRule(rule: RuleConfig): CompiledRule {
  const w = rule.when;
  const checks: Predicate[] = [];
  if (w.zones) {
    const zones = new Set(w.zones);
    checks.push((f) => f.zone !== undefined && zones.has(f.zone));
  }
  if (w.lanes) {
    const lanes = new Set(w.lanes);
    checks.push((f) => f.lane !== undefined && lanes.has(f.lane));
  }
  if (w.tiers) {
    const tiers = new Set(w.tiers);
    checks.push((f) => f.holder?.tier !== undefined && tiers.has(f.holder.tier));
  }
  if (w.visitCount) {
    const min = w.visitCount.min ?? 0;
    const max = w.visitCount.max ?? Number.POSITIVE_INFINITY;
    checks.push((f) => f.visitCount !== undefined && f.visitCount >= min && f.visitCount <= max);
  }
  if (w.item !== undefined) {
    const item = w.item;
    checks.push((f) => f.item === item);
  }
  if (w.action !== undefined) {
    const action = w.action;
    checks.push((f) => f.action === action);
  }
  if (w.attributes) {
    const wanted = Object.entries(w.attributes);
    checks.push((f) => wanted.every(([k, v]) => f.holder?.attributes?.[k] === v));
  }
  if (w.timeWindows) {
    // Last: the only check that needs local time, computed lazily.
    const windows = w.timeWindows.map(windowMatcher);
    checks.push((_f, local) => {
      const t = local();
      return windows.some((m) => m(t));
    });
  }
  const quietWindows = (rule.quietHours ?? []).map(windowMatcher);
  return {
    id: rule.id,
    config: rule,
    priority: rule.priority,
    matches: (f, local) => checks.every((c) => c(f, local)),
    quiet: (t) => quietWindows.some((m) => m(t)),
    holdoutBelow: Math.floor((rule.controlGroupPercent / 100) * 2 ** 32),
  };
}

/**
 * Deterministic hold-out: the first 32 bits of SHA-256(person + ":" + rule id).
 * The same holder is always in (or out of) a rule's control group, on every
 * gateway, with no state to keep; different rules draw independent groups.
 */
export function holdoutHash(person: string, ruleId: string): number {
  return createHash('sha256').update(person).update(':').update(ruleId).digest().readUInt32BE(0);
}

export function inControlGroup(rule: CompiledRule, person: string): boolean {
  return rule.holdoutBelow > 0 && holdoutHash(person, rule.id) < rule.holdoutBelow;
}

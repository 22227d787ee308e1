import type { SignContent } from '../core/signage.js';
import { inControlGroup, type CompiledRule, type CompiledRuleSet, type RuleFacts } from './compile.js';
import type { LocalTime } from './localtime.js';
import { ulidFactory } from '../events/cloudevent.js';

export type SuppressReason = 'quiet_hours' | 'no_consent' | 'cooldown' | 'holder_cap' | 'sign_cap' | 'sign_busy';

/** What the engine decided for one matching rule. */
export type RuleOutcome =
  | { kind: 'send'; rule: CompiledRule; sign: string; content: SignContent }
  | { kind: 'withheld'; rule: CompiledRule; signs: string[]; content: string; reason: 'control_group' }
  | { kind: 'suppressed'; rule: CompiledRule; reason: SuppressReason };

const NONE: RuleOutcome[] = [];

/**
 * Evaluates compiled rules against engagement facts, keeping the state that
 * caps, cooldowns and busy signs need (in memory: caps restart with the process,
 * which errs towards showing content, never towards breaking access).
 */
export class RulesEngine {
  private rules: CompiledRuleSet;
  private readonly cooldowns = new Map<string, number>();
  private readonly holderSends = new Map<string, number[]>();
  private readonly signSends = new Map<string, number[]>();
  private readonly busy = new Map<string, { until: number; priority: number }>();
  private readonly nextId = ulidFactory();

  constructor(rules: CompiledRuleSet) {
    this.rules = rules;
  }

  /** Swaps in recompiled rules (config reload); caps and cooldowns carry over by rule id. */
  replace(rules: CompiledRuleSet): void {
    this.rules = rules;
  }

  get ruleCount(): number {
    return this.rules.size;
  }

  evaluate(f: RuleFacts): RuleOutcome[] {
    const candidates = this.rules.byEvent.get(f.event);
    if (!candidates) return NONE;
    let local: LocalTime | undefined;
    const localTime = (): LocalTime => (local ??= this.rules.localTime(f.nowMs));
    const outcomes: Array<RuleOutcome | SendMany> = [];
    const claimed = new Set<string>();
    const person = f.person ?? f.holderRef;
    for (const rule of candidates) {
      if (!rule.matches(f, localTime)) continue;
      outcomes.push(this.decide(rule, f, person, localTime, claimed));
    }
    return outcomes.flatMap(expandSends);
  }

  /** Drops cap and cooldown entries too old to matter (call now and then; keeps memory bounded). */
  sweep(nowMono: number, maxWindowMs = 7 * 24 * 3600_000): void {
    for (const [k, at] of this.cooldowns) if (nowMono - at > maxWindowMs) this.cooldowns.delete(k);
    for (const map of [this.holderSends, this.signSends]) {
      for (const [k, list] of map) if (list.length === 0 || nowMono - list[list.length - 1]! > maxWindowMs) map.delete(k);
    }
    for (const [k, b] of this.busy) if (b.until <= nowMono) this.busy.delete(k);
  }

  private decide(rule: CompiledRule, f: RuleFacts, person: string | undefined, localTime: () => LocalTime, claimed: Set<string>): RuleOutcome | SendMany {
    const cfg = rule.config;
    if (this.rules.quiet(localTime()) || rule.quiet(localTime())) return { kind: 'suppressed', rule, reason: 'quiet_hours' };
    const consented = f.holder?.consent.personalisation === true;
    if (cfg.personalised && !consented) return { kind: 'suppressed', rule, reason: 'no_consent' };
    const now = f.monoAt;
    const cooldownKey = person === undefined ? undefined : rule.id + '\u0000' + person;
    if (cooldownKey !== undefined && cfg.cooldownS > 0) {
      const last = this.cooldowns.get(cooldownKey);
      if (last !== undefined && now - last < cfg.cooldownS * 1000) return { kind: 'suppressed', rule, reason: 'cooldown' };
    }
    const holderCap = cfg.caps.perHolder;
    const holderKey = cooldownKey;
    if (holderCap && holderKey !== undefined && countRecent(this.holderSends.get(holderKey), now, holderCap.windowS * 1000) >= holderCap.count) {
      return { kind: 'suppressed', rule, reason: 'holder_cap' };
    }
    const signs: string[] = [];
    let blockedBy: SuppressReason = 'sign_busy';
    const signCap = cfg.caps.perSign;
    for (const sign of cfg.send.signs) {
      if (claimed.has(sign)) continue;
      const b = this.busy.get(sign);
      if (b && b.until > now && b.priority >= rule.priority) continue;
      if (signCap && countRecent(this.signSends.get(rule.id + '\u0000' + sign), now, signCap.windowS * 1000) >= signCap.count) {
        blockedBy = 'sign_cap';
        continue;
      }
      signs.push(sign);
    }
    if (signs.length === 0) return { kind: 'suppressed', rule, reason: blockedBy };

    // From here the opportunity counts, for the control group too, so both groups see the same caps.
    for (const sign of signs) {
      claimed.add(sign);
      record(this.signSends, rule.id + '\u0000' + sign, now);
    }
    if (cooldownKey !== undefined) {
      this.cooldowns.set(cooldownKey, now);
      record(this.holderSends, cooldownKey, now);
    }
    if (person !== undefined && inControlGroup(rule, person)) {
      return { kind: 'withheld', rule, signs, content: cfg.send.content, reason: 'control_group' };
    }
    const base: Omit<SignContent, 'contentId'> = {
      content: cfg.send.content,
      durationMs: cfg.send.durationMs,
      priority: rule.priority,
      ruleId: rule.id,
    };
    const vars = fillVars(cfg.send.vars, f, cfg.personalised && consented);
    if (vars) base.vars = vars;
    if (cfg.personalised && consented && f.holderRef !== undefined) base.holderRef = f.holderRef;
    for (const sign of signs) this.busy.set(sign, { until: now + cfg.send.durationMs, priority: rule.priority });
    return { kind: 'send-many', rule, contents: signs.map((sign) => ({ sign, content: { ...base, contentId: this.nextId() } })) };
  }
}

interface SendMany {
  kind: 'send-many';
  rule: CompiledRule;
  contents: Array<{ sign: string; content: SignContent }>;
}

function expandSends(o: SendMany | RuleOutcome): RuleOutcome[] {
  if (o.kind !== 'send-many') return [o];
  return o.contents.map((c) => ({ kind: 'send', rule: o.rule, sign: c.sign, content: c.content }));
}

function countRecent(list: number[] | undefined, now: number, windowMs: number): number {
  if (!list) return 0;
  while (list.length > 0 && now - list[0]! >= windowMs) list.shift();
  return list.length;
}

function record(map: Map<string, number[]>, key: string, now: number): void {
  const list = map.get(key);
  if (list) list.push(now);
  else map.set(key, [now]);
}

const PLACEHOLDER = /\{(zone|tier|visitCount|name)\}/g;

/** Fills `{zone}`, `{tier}`, `{visitCount}`, `{name}`; only `{zone}` for generic (unconsented or non-personalised) content. */
function fillVars(vars: Record<string, string> | undefined, f: RuleFacts, personal: boolean): Record<string, string> | undefined {
  if (!vars) return undefined;
  const out: Record<string, string> = {};
  for (const [k, template] of Object.entries(vars)) {
    out[k] = template.replace(PLACEHOLDER, (_m, name: string) => {
      if (name === 'zone') return f.zone ?? '';
      if (!personal) return '';
      if (name === 'tier') return f.holder?.tier ?? '';
      if (name === 'visitCount') return f.visitCount === undefined ? '' : String(f.visitCount);
      return f.holder?.displayName ?? '';
    });
  }
  return out;
}

import type { EntitlementRecord } from '../../gateway/access/model.js';
import type { Scenario } from './scenario.js';

/** mulberry32: a tiny seeded PRNG, so a seed replays the same crowd on any machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Expect = 'valid' | 'expired' | 'blocked' | 'passback' | 'unknown';

/** One credential presented at an entry lane. */
export interface Arrival {
  /** Ms after the start of the window. */
  atMs: number;
  /** Index into the entry lanes the plan was made for. */
  lane: number;
  /** Card credential value `<facility>:<card>` (H10301 ranges: facility 0-255, card 0-65535). */
  credential: string;
  facility: number;
  card: number;
  expect: Expect;
}

export interface Crowd {
  holders: EntitlementRecord[];
  arrivals: Arrival[];
}

/** Facility codes at and above this are nobody's (unknown cards). */
const UNKNOWN_FACILITY = 240;

const DAY_MS = 86_400_000;

/** The validity of a holder whose entitlement is current at `now`: from a month ago until 300 days on. */
function currentValidity(now: number): { validFrom: string; validUntil: string } {
  return { validFrom: new Date(now - 30 * DAY_MS).toISOString(), validUntil: new Date(now + 300 * DAY_MS).toISOString() };
}

/** Facilities of the pre-opening cards: above the crowd's (1, 2, ...) and below the unknown cards'. */
const PRE_OPENING_FACILITY = 200;

/**
 * Holders for the pre-opening (scenario `preOpening`): valid for every zone,
 * with cards no crowd holder or unknown card can have, so the measured
 * crowd's answers do not depend on them.
 */
export function preOpeningHolders(count: number, zones: readonly string[], now = Date.now()): { holders: EntitlementRecord[]; credentials: string[] } {
  const holders: EntitlementRecord[] = [];
  const credentials: string[] = [];
  for (let n = 0; n < count; n++) {
    const value = `${PRE_OPENING_FACILITY + Math.floor(n / 65_536)}:${n % 65_536}`;
    holders.push({
      holder: `pre-${String(n).padStart(7, '0')}`,
      tier: 'standard',
      consent: { personalisation: false, marketing: false },
      credentials: [{ kind: 'card', value }],
      zones: [...zones],
      ...currentValidity(now),
    });
    credentials.push(value);
  }
  return { holders, credentials };
}

function cardOf(n: number): { facility: number; card: number } {
  return { facility: 1 + Math.floor(n / 65_536), card: n % 65_536 };
}

/**
 * Share of arrivals made by time `u` (0..1 of the window) under a trapezoid
 * rate: linear ramp up, flat peak, linear tail. Inverting it spaces arrivals
 * the way the curve says.
 */
export function arrivalShare(u: number, rampUp: number, tail: number): number {
  const peak = 1 - rampUp - tail;
  const area = rampUp / 2 + peak + tail / 2;
  let a: number;
  if (u <= rampUp) a = rampUp === 0 ? 0 : (u * u) / (2 * rampUp);
  else if (u <= rampUp + peak) a = rampUp / 2 + (u - rampUp);
  else {
    const v = Math.min(u, 1) - rampUp - peak;
    a = rampUp / 2 + peak + (tail === 0 ? 0 : v - (v * v) / (2 * tail));
  }
  return a / area;
}

/** Inverse of arrivalShare by bisection (monotone, 40 steps is far below a millisecond). */
function timeOfShare(s: number, rampUp: number, tail: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (arrivalShare(mid, rampUp, tail) < s) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The crowd for a scenario: the holders central publishes and the arrivals at
 * the entry lanes, both fully determined by `scenario.seed`. Valid holders
 * enter once (the venue's hard anti-passback), passback attempts re-present a
 * card that entered earlier, expired and blocked holders exist in the store,
 * unknown cards do not.
 */
export function makeCrowd(scenario: Scenario, laneWeights: readonly number[], zones: readonly string[], now = Date.now()): Crowd {
  if (laneWeights.length === 0) throw new RangeError('no entry lanes to send the crowd to');
  const rnd = seededRandom(scenario.seed);
  const iso = (t: number) => new Date(t).toISOString();
  const totalWeight = laneWeights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  laneWeights.reduce((acc, w, i) => (cumulative[i] = acc + w / totalWeight), 0);
  const pickLane = (): number => {
    const r = rnd();
    const i = cumulative.findIndex((c) => r < c);
    return i === -1 ? laneWeights.length - 1 : i;
  };
  const { expired, blocked, passback, unknown } = scenario.mix;
  const holders: EntitlementRecord[] = [];
  const arrivals: Arrival[] = [];
  const entered: Array<{ facility: number; card: number; credential: string }> = [];
  let nextHolder = 0;
  const windowMs = scenario.durationS * 1000;
  for (let i = 0; i < scenario.entries; i++) {
    const atMs = Math.round(timeOfShare((i + rnd()) / scenario.entries, scenario.arrival.rampUp, scenario.arrival.tail) * windowMs);
    const r = rnd();
    let expect: Expect = 'valid';
    if (r < expired) expect = 'expired';
    else if (r < expired + blocked) expect = 'blocked';
    else if (r < expired + blocked + passback) expect = entered.length > 0 ? 'passback' : 'valid';
    else if (r < expired + blocked + passback + unknown) expect = 'unknown';
    let card: { facility: number; card: number };
    if (expect === 'passback') {
      card = entered[Math.floor(rnd() * entered.length)]!;
    } else if (expect === 'unknown') {
      card = { facility: UNKNOWN_FACILITY + Math.floor(rnd() * 16), card: Math.floor(rnd() * 65_536) };
    } else {
      card = cardOf(nextHolder);
      const holder = `sim-${String(nextHolder).padStart(7, '0')}`;
      nextHolder++;
      const value = `${card.facility}:${card.card}`;
      const base: EntitlementRecord = {
        holder,
        tier: rnd() < 0.2 ? 'gold' : 'standard',
        consent: { personalisation: rnd() < 0.6, marketing: rnd() < 0.4 },
        credentials: [{ kind: 'card', value }],
        zones: [...zones],
      };
      if (expect === 'expired') holders.push({ ...base, validFrom: iso(now - 400 * DAY_MS), validUntil: iso(now - 30 * DAY_MS) });
      else if (expect === 'blocked') holders.push({ ...base, ...currentValidity(now), blocked: { reason: 'reported stolen' } });
      else {
        holders.push({ ...base, ...currentValidity(now) });
        entered.push({ ...card, credential: value });
      }
    }
    arrivals.push({ atMs, lane: pickLane(), credential: `${card.facility}:${card.card}`, facility: card.facility, card: card.card, expect });
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);
  return { holders, arrivals };
}

import { afterEach, describe, expect, it } from 'vitest';
import type { Credential, DecisionFlags } from '../core/types.js';
import { fakeClock, lane, removeDir, rig, zone, type Rig } from '../../test/access/harness.js';
import type { EntitlementRecord } from './model.js';
import { REASON_CODES } from './reasons.js';

// 2026-03-04 is a Wednesday (weekday 3).
const WED_NOON = Date.parse('2026-03-04T12:00:00Z');
const HOUR = 3_600_000;

const zones = [
  zone('main'),
  zone('vip'),
  zone('hard', { antiPassback: { mode: 'hard' } }),
  zone('soft', { antiPassback: { mode: 'soft' } }),
  zone('timed', { antiPassback: { mode: 'timed', minutes: 5 } }),
  zone('reset', { antiPassback: { mode: 'hard', resetAfterHours: 2 } }),
  zone('cap', { capacity: 1 }),
];
const lanes = [
  lane('in-main', 'main'),
  lane('out-main', 'main', { direction: 'out' }),
  lane('in-vip', 'vip'),
  lane('in-hard', 'hard'),
  lane('out-hard', 'hard', { direction: 'out' }),
  lane('in-soft', 'soft'),
  lane('out-soft', 'soft', { direction: 'out' }),
  lane('in-timed', 'timed'),
  lane('in-reset', 'reset'),
  lane('out-timed', 'timed', { direction: 'out' }),
  lane('in-cap', 'cap'),
  lane('out-cap', 'cap', { direction: 'out' }),
  lane('in-open', 'main', { fail: 'open' }),
  lane('in-short', 'main', { maxCacheAgeHours: 1 }),
];

const card = (value: string): Credential => ({ kind: 'card', value });
const rec = (holder: string, value: string, extra: Partial<EntitlementRecord> = {}): EntitlementRecord => ({ holder, credentials: [{ kind: 'card', value }], ...extra });

const records: EntitlementRecord[] = [
  rec('ok', '1'),
  rec('blocked', '2', { blocked: { reason: 'chargeback' } }),
  rec('expired', '3', { validUntil: '2026-03-01T00:00:00Z' }),
  rec('future', '4', { validFrom: '2026-03-05T00:00:00Z' }),
  rec('vip-only', '5', { zones: ['vip'] }),
  rec('lane-only', '6', { lanes: ['in-vip'] }),
  rec('mon-tue', '7', { schedule: { weekly: [{ days: [1, 2], from: '09:00', to: '17:00' }] } }),
  rec('wed-lunch', '8', { schedule: { weekly: [{ days: [3], from: '11:00', to: '13:00' }], holidays: ['2026-03-05'] } }),
  rec('holiday', '9', { schedule: { weekly: [{ days: [0, 1, 2, 3, 4, 5, 6], from: '00:00', to: '24:00' }], holidays: ['2026-03-04'] } }),
  rec('ticket', '10', { limits: { total: 1 } }),
  rec('daily', '11', { limits: { perDay: 2 } }),
  rec('tue-night', '12', { schedule: { weekly: [{ days: [2], from: '22:00', to: '06:00' }] } }),
  rec('greeted', '13', { displayName: 'Ada', consent: { personalisation: true } }),
  rec('not-greeted', '14', { displayName: 'Bob' }),
  rec('multi', 'x', { credentials: [{ kind: 'card', value: '15' }, { kind: 'barcode', value: 'TICKET-15' }, { kind: 'pin', value: '1515' }] }),
  rec('other', '16'),
  rec('lane-and-zone', '17', { zones: ['vip'], lanes: ['in-main'] }),
];

type Step =
  | { lane: string; cred: Credential; at?: number; expect: { result: 'granted' | 'denied'; reason: string; holderRef?: string; flags?: DecisionFlags; display?: string } }
  | { passage: { lane: string; holder: string; used: boolean } }
  | { occupancy: { zone: string; is: number } };

interface Case {
  name: string;
  steps: Step[];
}

const granted = (reason = 'granted', flags?: DecisionFlags) => ({ result: 'granted' as const, reason, ...(flags ? { flags } : {}) });
const denied = (reason: string, flags?: DecisionFlags) => ({ result: 'denied' as const, reason, ...(flags ? { flags } : {}) });

const cases: Case[] = [
  { name: 'grants a valid holder with no restrictions and names them', steps: [{ lane: 'in-main', cred: card('1'), expect: { ...granted(), holderRef: 'ok', display: 'Welcome' } }] },
  { name: 'denies a credential no holder has', steps: [{ lane: 'in-main', cred: card('999'), expect: denied('unknown_credential') }] },
  { name: 'the same number under another kind is another credential', steps: [{ lane: 'in-main', cred: { kind: 'barcode', value: '1' }, expect: denied('unknown_credential') }] },
  { name: 'every credential of a holder works', steps: [
    { lane: 'in-main', cred: card('15'), expect: { ...granted(), holderRef: 'multi' } },
    { lane: 'in-main', cred: { kind: 'barcode', value: 'TICKET-15' }, expect: { ...granted(), holderRef: 'multi' } },
    { lane: 'in-main', cred: { kind: 'pin', value: '1515' }, expect: { ...granted(), holderRef: 'multi' } },
  ] },
  { name: 'denies an empty credential as invalid', steps: [{ lane: 'in-main', cred: card(''), expect: denied('invalid_credential') }] },
  { name: 'denies non-printable bytes as invalid', steps: [{ lane: 'in-main', cred: { kind: 'barcode', value: 'AB\u0007C' }, expect: denied('invalid_credential') }] },
  { name: 'denies an absurdly long credential as invalid', steps: [{ lane: 'in-main', cred: { kind: 'barcode', value: 'A'.repeat(5000) }, expect: denied('invalid_credential') }] },
  { name: 'denies a malformed card number as invalid', steps: [{ lane: 'in-main', cred: card('12ab'), expect: denied('invalid_credential') }] },
  { name: 'denies a blocked holder', steps: [{ lane: 'in-main', cred: card('2'), expect: { ...denied('blocked'), holderRef: 'blocked', display: 'See staff' } }] },
  { name: 'lets a blocked holder out (egress is never refused for a block)', steps: [{ lane: 'out-main', cred: card('2'), expect: granted() }] },
  { name: 'denies after the validity window', steps: [{ lane: 'in-main', cred: card('3'), expect: denied('expired') }] },
  { name: 'lets an expired holder out', steps: [{ lane: 'out-main', cred: card('3'), expect: granted() }] },
  { name: 'denies before the validity window', steps: [{ lane: 'in-main', cred: card('4'), expect: denied('not_yet_valid') }] },
  { name: 'grants once the validity window opens', steps: [{ lane: 'in-main', cred: card('4'), at: Date.parse('2026-03-05T00:00:00Z'), expect: granted() }] },
  { name: 'denies a zone the holder has no right to', steps: [
    { lane: 'in-main', cred: card('5'), expect: denied('wrong_zone') },
    { lane: 'in-vip', cred: card('5'), expect: granted() },
  ] },
  { name: 'denies a lane the holder is not restricted to', steps: [
    { lane: 'in-main', cred: card('6'), expect: denied('wrong_lane') },
    { lane: 'in-vip', cred: card('6'), expect: granted() },
  ] },
  { name: 'zones and lanes add up: a listed lane outside the listed zones is allowed', steps: [
    { lane: 'in-main', cred: card('17'), expect: granted() },
    { lane: 'in-vip', cred: card('17'), expect: granted() },
    { lane: 'in-hard', cred: card('17'), expect: denied('wrong_zone') },
  ] },
  { name: 'denies outside the weekly schedule', steps: [
    { lane: 'in-main', cred: card('7'), expect: denied('outside_schedule') },
    { lane: 'in-main', cred: card('7'), at: Date.parse('2026-03-03T10:00:00Z'), expect: granted() },
    { lane: 'in-main', cred: card('7'), at: Date.parse('2026-03-03T17:00:00Z'), expect: denied('outside_schedule') },
  ] },
  { name: 'grants inside the schedule and denies on a holiday', steps: [
    { lane: 'in-main', cred: card('8'), expect: granted() },
    { lane: 'in-main', cred: card('8'), at: Date.parse('2026-03-05T12:00:00Z'), expect: denied('holiday') },
  ] },
  { name: 'a holiday denies even inside an all-day schedule', steps: [{ lane: 'in-main', cred: card('9'), expect: denied('holiday') }] },
  { name: 'an overnight window runs past midnight into the next day', steps: [
    { lane: 'in-main', cred: card('12'), at: Date.parse('2026-03-04T03:00:00Z'), expect: granted() },
    { lane: 'in-main', cred: card('12'), at: Date.parse('2026-03-03T23:00:00Z'), expect: granted() },
    { lane: 'in-main', cred: card('12'), at: Date.parse('2026-03-04T06:00:00Z'), expect: denied('outside_schedule') },
    { lane: 'in-main', cred: card('12'), at: Date.parse('2026-03-04T23:00:00Z'), expect: denied('outside_schedule') },
  ] },
  { name: 'a one-entry ticket enters once', steps: [
    { lane: 'in-main', cred: card('10'), expect: granted() },
    { lane: 'out-main', cred: card('10'), expect: granted() },
    { lane: 'in-main', cred: card('10'), expect: denied('entry_limit') },
    { lane: 'in-main', cred: card('10'), at: WED_NOON + 72 * HOUR, expect: denied('entry_limit') },
  ] },
  { name: 'a daily limit resets the next day', steps: [
    { lane: 'in-main', cred: card('11'), expect: granted('granted', { offline: true, firstEntryOfDay: true }) },
    { lane: 'in-main', cred: card('11'), expect: granted('granted', { offline: true }) },
    { lane: 'in-main', cred: card('11'), expect: denied('entry_limit') },
    { lane: 'in-main', cred: card('11'), at: WED_NOON + 24 * HOUR, expect: granted('granted', { offline: true, firstEntryOfDay: true }) },
  ] },
  { name: 'hard anti-passback denies a second entry without an exit', steps: [
    { lane: 'in-hard', cred: card('1'), expect: granted() },
    { lane: 'in-hard', cred: card('1'), expect: denied('anti_passback') },
    { lane: 'out-hard', cred: card('1'), expect: granted() },
    { lane: 'in-hard', cred: card('1'), expect: granted() },
  ] },
  { name: 'hard anti-passback forgets a position older than resetAfterHours (left by a door without a reader)', steps: [
    { lane: 'in-reset', cred: card('1'), at: WED_NOON, expect: granted() },
    { lane: 'in-reset', cred: card('1'), at: WED_NOON + 2 * HOUR - 1, expect: denied('anti_passback') },
    { lane: 'in-reset', cred: card('1'), at: WED_NOON + 2 * HOUR + 1, expect: granted() },
    { lane: 'in-reset', cred: card('1'), at: WED_NOON + 2 * HOUR + 2, expect: denied('anti_passback') },
  ] },
  { name: 'without resetAfterHours a hard position does not expire', steps: [
    { lane: 'in-hard', cred: card('1'), at: WED_NOON, expect: granted() },
    { lane: 'in-hard', cred: card('1'), at: WED_NOON + 10 * HOUR, expect: denied('anti_passback') },
  ] },
  { name: 'hard anti-passback denies a second exit without an entry', steps: [
    { lane: 'in-hard', cred: card('1'), expect: granted() },
    { lane: 'out-hard', cred: card('1'), expect: granted() },
    { lane: 'out-hard', cred: card('1'), expect: denied('anti_passback') },
  ] },
  { name: 'hard anti-passback is tracked per holder and per zone', steps: [
    { lane: 'in-hard', cred: card('1'), expect: granted() },
    { lane: 'in-hard', cred: card('16'), expect: granted() },
    { lane: 'in-main', cred: card('1'), expect: granted() },
    { lane: 'in-main', cred: card('1'), expect: granted() },
  ] },
  { name: 'soft anti-passback grants and flags the violation', steps: [
    { lane: 'in-soft', cred: card('1'), expect: granted() },
    { lane: 'in-soft', cred: card('1'), expect: granted('granted', { offline: true, apbViolation: true }) },
    { lane: 'out-soft', cred: card('1'), expect: granted('granted', { offline: true }) },
    { lane: 'out-soft', cred: card('1'), expect: granted('granted', { offline: true, apbViolation: true }) },
  ] },
  { name: 'timed anti-passback denies re-entry within its minutes, exit or not', steps: [
    { lane: 'in-timed', cred: card('1'), expect: granted() },
    { lane: 'out-timed', cred: card('1'), expect: granted() },
    { lane: 'in-timed', cred: card('1'), at: WED_NOON + 4 * 60_000, expect: denied('anti_passback') },
    { lane: 'in-timed', cred: card('1'), at: WED_NOON + 5 * 60_000, expect: granted() },
  ] },
  { name: 'occupancy counts entries and exits and denies at the cap', steps: [
    { lane: 'in-cap', cred: card('1'), expect: granted() },
    { occupancy: { zone: 'cap', is: 1 } },
    { lane: 'in-cap', cred: card('16'), expect: denied('occupancy_full') },
    { lane: 'out-cap', cred: card('1'), expect: granted() },
    { occupancy: { zone: 'cap', is: 0 } },
    { lane: 'in-cap', cred: card('16'), expect: granted() },
  ] },
  { name: 'occupancy never goes below zero on extra exits', steps: [
    { lane: 'out-cap', cred: card('1'), expect: granted() },
    { occupancy: { zone: 'cap', is: 0 } },
  ] },
  { name: 'a grant without rotation is taken back: occupancy, anti-passback and the ticket', steps: [
    { lane: 'in-hard', cred: card('10'), expect: granted() },
    { passage: { lane: 'in-hard', holder: 'ticket', used: false } },
    { occupancy: { zone: 'hard', is: 0 } },
    { lane: 'in-hard', cred: card('10'), expect: granted() },
    { passage: { lane: 'in-hard', holder: 'ticket', used: true } },
    { passage: { lane: 'in-hard', holder: 'ticket', used: false } },
    { occupancy: { zone: 'hard', is: 1 } },
    { lane: 'in-hard', cred: card('10'), expect: denied('entry_limit') },
  ] },
  { name: 'a passage report for another holder takes nothing back', steps: [
    { lane: 'in-cap', cred: card('1'), expect: granted() },
    { passage: { lane: 'in-cap', holder: 'other', used: false } },
    { passage: { lane: 'nowhere', holder: 'ok', used: false } },
    { occupancy: { zone: 'cap', is: 1 } },
  ] },
  { name: 'greets by name only with personalisation consent', steps: [
    { lane: 'in-main', cred: card('13'), expect: { ...granted(), display: 'Welcome, Ada' } },
    { lane: 'in-main', cred: card('14'), expect: { ...granted(), display: 'Welcome' } },
  ] },
  { name: 'denies a lane that is not configured', steps: [{ lane: 'nope', cred: card('1'), expect: denied('unknown_lane') }] },
  { name: 'uses the cache until the lane\'s maximum age, then fails closed with cacheStale', steps: [
    { lane: 'in-short', cred: card('1'), at: WED_NOON + HOUR, expect: granted() },
    { lane: 'in-short', cred: card('1'), at: WED_NOON + HOUR + 1, expect: denied('fail_closed', { offline: true, failMode: true, cacheStale: true }) },
    { lane: 'in-main', cred: card('1'), at: WED_NOON + HOUR + 1, expect: granted() },
  ] },
  { name: 'a stale cache on a fail-open lane grants with failMode and cacheStale, holder unknown', steps: [
    { lane: 'in-open', cred: card('999'), at: WED_NOON + 73 * HOUR, expect: { ...granted('fail_open', { offline: true, failMode: true, cacheStale: true }), display: 'Welcome' } },
    { occupancy: { zone: 'main', is: 1 } },
  ] },
];

describe('access engine rules (table)', () => {
  let r: Rig | undefined;
  afterEach(() => {
    r?.close();
    if (r) removeDir(r.dir);
    r = undefined;
  });

  it.each(cases)('$name', async ({ steps }) => {
    r = await rig({ zones, lanes, records, clock: fakeClock(WED_NOON) });
    for (const step of steps) {
      if ('passage' in step) {
        r.engine.recordPassage(step.passage.lane, step.passage.holder, step.passage.used);
      } else if ('occupancy' in step) {
        expect(r.engine.occupancy(step.occupancy.zone)).toBe(step.occupancy.is);
      } else {
        r.clock.set(step.at ?? WED_NOON);
        const d = r.engine.decide(step.lane, step.cred);
        expect(d).toMatchObject(step.expect);
        expect(d.laneId).toBe(step.lane);
        expect(d.at).toBe(step.at ?? WED_NOON);
      }
    }
  });

  it('covers every documented reason code in the table or the fail-mode tests', () => {
    const inTable = new Set(cases.flatMap((c) => c.steps.flatMap((s) => ('expect' in s ? [s.expect.reason] : []))));
    const failModeReasons = new Set(['fail_open', 'fail_closed']);
    expect(REASON_CODES.filter((code) => !inTable.has(code) && !failModeReasons.has(code))).toEqual([]);
  });
});

describe('access engine fail modes and flags', () => {
  let r: Rig | undefined;
  afterEach(() => {
    r?.close();
    if (r) removeDir(r.dir);
    r = undefined;
  });

  it('without any snapshot, ingress fails closed and egress fails open by default', async () => {
    r = await rig({ zones, lanes });
    expect(r.engine.decide('in-main', card('1'))).toMatchObject({ result: 'denied', reason: 'fail_closed', flags: { failMode: true } });
    expect(r.engine.decide('out-main', card('1'))).toMatchObject({ result: 'granted', reason: 'fail_open', flags: { failMode: true } });
    expect(r.engine.decide('in-open', card('1'))).toMatchObject({ result: 'granted', reason: 'fail_open' });
    expect(r.engine.decide('in-main', card('1')).flags.cacheStale).toBeUndefined();
  });

  it('an invalid credential is invalid even in fail mode (never granted by fail-open)', async () => {
    r = await rig({ zones, lanes });
    expect(r.engine.decide('in-open', card(''))).toMatchObject({ result: 'denied', reason: 'invalid_credential' });
  });

  it('fail-open still respects a full zone', async () => {
    r = await rig({ zones: [zone('z', { capacity: 1 })], lanes: [lane('in', 'z', { fail: 'open' })] });
    expect(r.engine.decide('in', card('1')).reason).toBe('fail_open');
    expect(r.engine.decide('in', card('1'))).toMatchObject({ result: 'denied', reason: 'occupancy_full', flags: { failMode: true } });
    r.engine.recordPassage('in', '', false);
    expect(r.engine.occupancy('z')).toBe(0);
  });

  it('a change batch from central refreshes a stale cache', async () => {
    r = await rig({ zones, lanes, records, clock: fakeClock(WED_NOON) });
    r.clock.set(WED_NOON + 2 * HOUR);
    expect(r.engine.decide('in-short', card('1')).reason).toBe('fail_closed');
    r.store.applyChanges([], 'c2');
    expect(r.engine.decide('in-short', card('1')).reason).toBe('granted');
  });

  it('flags decisions made on an unsynchronised clock', async () => {
    r = await rig({ zones, lanes, records, clock: fakeClock(WED_NOON) });
    r.clock.synced = false;
    expect(r.engine.decide('in-main', card('1')).flags).toMatchObject({ clockUnsynced: true, offline: true });
    r.clock.synced = true;
    expect(r.engine.decide('in-main', card('1')).flags.clockUnsynced).toBeUndefined();
  });

  it('judges schedules and days in the configured time zone', async () => {
    // 23:30 UTC on Tuesday is 00:30 Wednesday in Berlin (CET, UTC+1).
    r = await rig({
      zones,
      lanes,
      timezone: 'Europe/Berlin',
      clock: fakeClock(Date.parse('2026-03-03T23:30:00Z')),
      records: [rec('berlin', '1', { schedule: { weekly: [{ days: [3], from: '00:00', to: '01:00' }] } }), rec('daily', '2', { limits: { perDay: 1 } })],
    });
    expect(r.engine.decide('in-main', card('1')).reason).toBe('granted');
    expect(r.engine.decide('in-main', card('2')).reason).toBe('granted');
    // 22:59 UTC Wednesday is still Wednesday in Berlin; 23:00 UTC is Thursday there: a new day.
    r.clock.set(Date.parse('2026-03-04T22:59:00Z'));
    expect(r.engine.decide('in-main', card('2')).reason).toBe('entry_limit');
    r.clock.set(Date.parse('2026-03-04T23:00:00Z'));
    expect(r.engine.decide('in-main', card('2'))).toMatchObject({ reason: 'granted', flags: { firstEntryOfDay: true } });
  });

  it('applies movements from another gateway to anti-passback and occupancy', async () => {
    r = await rig({ zones, lanes, records, clock: fakeClock(WED_NOON) });
    r.engine.applyMovement({ holderRef: 'ok', zoneId: 'hard', direction: 'in', at: WED_NOON - 1000, gatewayId: 'gw-2' });
    expect(r.engine.occupancy('hard')).toBe(1);
    expect(r.engine.decide('in-hard', card('1')).reason).toBe('anti_passback');
    expect(r.engine.decide('out-hard', card('1')).reason).toBe('granted');
  });

  it('a timed window is not judged against an entry "in the future" after the clock jumped back', async () => {
    r = await rig({ zones, lanes, records, clock: fakeClock(WED_NOON) });
    expect(r.engine.decide('in-timed', card('1')).reason).toBe('granted');
    r.clock.set(WED_NOON - HOUR);
    expect(r.engine.decide('in-timed', card('1')).reason).toBe('granted');
  });

  it('rejects configs the engine cannot honour', async () => {
    await expect(rig({ zones: [zone('z', { antiPassback: { mode: 'timed' } })], lanes: [] })).rejects.toMatchObject({ code: 'GH_CONFIG_INVALID' });
    await expect(rig({ zones: [zone('z')], lanes: [lane('l', 'missing')] })).rejects.toMatchObject({ code: 'GH_CONFIG_INVALID' });
    await expect(rig({ zones: [zone('z')], lanes: [], timezone: 'Mars/Olympus' })).rejects.toMatchObject({ code: 'GH_CONFIG_INVALID' });
  });

  it('a failing cache read becomes the lane\'s fail mode, never an exception', async () => {
    r = await rig({ zones, lanes, records });
    const broken = r.store;
    broken.lookup = () => {
      throw new Error('disk I/O error');
    };
    expect(r.engine.decide('in-main', card('1'))).toMatchObject({ result: 'denied', reason: 'fail_closed', flags: { failMode: true } });
    expect(r.engine.decide('in-open', card('1'))).toMatchObject({ result: 'granted', reason: 'fail_open', flags: { failMode: true } });
  });

  it('exports occupancy and fail-mode metrics on the given registry', async () => {
    r = await rig({ zones, lanes, records });
    r.engine.decide('in-cap', card('1'));
    r.clock.advance(2 * HOUR);
    r.engine.decide('in-short', card('1'));
    const text = await r.metrics.metrics();
    expect(text).toContain('gatehouse_access_occupancy{zone="cap"} 1');
    expect(text).toContain('gatehouse_access_fail_mode{lane="in-short"} 1');
    expect(text).toContain('gatehouse_access_store_holders 17');
    expect(text).toMatch(/gatehouse_access_cache_age_seconds 7200/);
  });
});

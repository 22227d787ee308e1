import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localTimeIn } from './localtime.js';

/** The slow, obviously right answer: Intl for every call. */
function reference(timezone: string, ms: number) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday ?? '');
  return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday, minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

describe('local time', () => {
  it.each([
    ['UTC', '2026-03-04T12:34:56Z', { date: '2026-03-04', weekday: 3, minute: 754 }],
    ['Europe/Berlin', '2026-03-03T23:30:00Z', { date: '2026-03-04', weekday: 3, minute: 30 }],
    ['America/New_York', '2026-03-08T06:59:00Z', { date: '2026-03-08', weekday: 0, minute: 119 }],
    ['America/New_York', '2026-03-08T07:00:00Z', { date: '2026-03-08', weekday: 0, minute: 180 }],
    ['Asia/Kolkata', '2026-01-01T18:29:00Z', { date: '2026-01-01', weekday: 4, minute: 23 * 60 + 59 }],
    ['Australia/Lord_Howe', '2026-04-04T15:00:00Z', { date: '2026-04-05', weekday: 0, minute: 90 }],
  ])('%s at %s', (tz, iso, expected) => {
    expect(localTimeIn(tz)(Date.parse(iso))).toEqual(expected);
  });

  it('agrees with Intl at every instant, across DST changes (property)', () => {
    for (const tz of ['Europe/London', 'America/Los_Angeles', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
      const local = localTimeIn(tz);
      fc.assert(
        fc.property(fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') }), (ms) => {
          expect(local(ms)).toEqual(reference(tz, ms));
        }),
        { numRuns: 300 },
      );
    }
  });

  it('names an unknown zone with GH_CONFIG_INVALID', () => {
    expect(() => localTimeIn('Nowhere/Special')).toThrow(expect.objectContaining({ code: 'GH_CONFIG_INVALID' }));
  });
});

import type { TimeWindow } from '../../config/sections/engagement.js';

/** Local wall-clock facts rules need: minutes since local midnight and day of week (0 = Sunday). */
export interface LocalTime {
  minutes: number;
  day: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * Local time in an IANA time zone, cached per minute: `Intl` formatting costs
 * microseconds and rules may ask for it on every matching event.
 */
export function localTimeSource(timeZone: string): (nowMs: number) => LocalTime {
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
  let cachedMinute = Number.NaN;
  let cached: LocalTime = { minutes: 0, day: 0 };
  return (nowMs) => {
    const minute = Math.floor(nowMs / 60_000);
    if (minute === cachedMinute) return cached;
    let hour = 0;
    let min = 0;
    let day = 0;
    for (const part of fmt.formatToParts(new Date(nowMs))) {
      if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') min = Number(part.value);
      else if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 0;
    }
    cachedMinute = minute;
    cached = { minutes: hour * 60 + min, day };
    return cached;
  };
}

export function parseHhmm(text: string): number {
  const [h, m] = text.split(':');
  return Number(h) * 60 + Number(m);
}

/** A compiled time window: `from` inclusive, `to` exclusive; `from > to` wraps past midnight (days name the day it starts). */
export function windowMatcher(w: TimeWindow): (t: LocalTime) => boolean {
  const from = parseHhmm(w.from);
  const to = parseHhmm(w.to);
  const days = w.days ? new Set(w.days) : undefined;
  if (from === to) return (t) => !days || days.has(t.day);
  if (from < to) return (t) => t.minutes >= from && t.minutes < to && (!days || days.has(t.day));
  return (t) => {
    if (t.minutes >= from) return !days || days.has(t.day);
    if (t.minutes < to) return !days || days.has((t.day + 6) % 7);
    return false;
  };
}

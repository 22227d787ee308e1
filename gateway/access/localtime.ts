import { GatehouseError } from '../errors.js';

export interface LocalTime {
  /** YYYY-MM-DD in the gateway's time zone. */
  date: string;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Minutes since local midnight. */
  minute: number;
}

// Every real UTC offset change happens on a quarter hour, so one offset per
// 15-minute bucket is exact and Intl (several µs a call) runs once per bucket.
const BUCKET_MS = 15 * 60_000;

/**
 * Converts wall-clock ms to local date/weekday/minute in an IANA time zone,
 * cheaply enough for the decision path.
 */
export function localTimeIn(timezone: string): (ms: number) => LocalTime {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  } catch (err) {
    throw new GatehouseError('GH_CONFIG_INVALID', `gateway.timezone "${timezone}" is not a known IANA time zone`, { timezone }, { cause: err });
  }
  const offsetAt = (ms: number): number => {
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const asUtc = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
    return asUtc - Math.floor(ms / 1000) * 1000;
  };
  let cachedBucket = Number.NaN;
  let cachedOffset = 0;
  let cachedDay = Number.NaN;
  let cachedDate = '';
  return (ms: number): LocalTime => {
    const bucket = Math.floor(ms / BUCKET_MS);
    if (bucket !== cachedBucket) {
      cachedBucket = bucket;
      cachedOffset = offsetAt(bucket * BUCKET_MS);
    }
    const local = ms + cachedOffset;
    const day = Math.floor(local / 86_400_000);
    if (day !== cachedDay) {
      cachedDay = day;
      cachedDate = new Date(day * 86_400_000).toISOString().slice(0, 10);
    }
    return { date: cachedDate, weekday: (((day + 4) % 7) + 7) % 7, minute: Math.floor((local - day * 86_400_000) / 60_000) };
  };
}

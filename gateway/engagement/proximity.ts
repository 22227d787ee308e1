import type { EngagementConfig } from '../../config/sections/engagement.js';

/** Tracker settings: the `engagement.proximity` config section. */
export type ProximitySettings = EngagementConfig['proximity'];

/** One RSSI sample of a person in a zone, already resolved from a sighting. */
export interface ProximitySample {
  /** Who: the holder ref, or `beacon:<key>` for a device no holder is known for. */
  person: string;
  zone: string;
  rssi: number;
  /** Calibrated RSSI at 1 m (dBm). */
  txPower: number;
  /** Log-distance path-loss exponent of the zone. */
  exponent: number;
  /** Monotonic ms of the sample. */
  monoAt: number;
  holderRef?: string;
  beacon: string;
  observer: string;
}

export type ZoneTransition =
  | { kind: 'entered'; person: string; zone: string; monoAt: number; distanceM: number; rssi: number; holderRef?: string; beacon: string; observer: string }
  | { kind: 'dwelled'; person: string; zone: string; monoAt: number; dwellMs: number; holderRef?: string; beacon: string; observer: string }
  | { kind: 'exited'; person: string; zone: string; monoAt: number; dwellMs: number; reason: 'moved_away' | 'lost'; holderRef?: string; beacon: string; observer: string };

export type SampleResult = 'accepted' | 'out_of_order' | 'tracker_full';

interface Track {
  person: string;
  zone: string;
  holderRef: string | undefined;
  beacon: string;
  observer: string;
  /** Smoothed RSSI (dBm) and, for the Kalman filter, its variance. */
  estimate: number;
  variance: number;
  samples: number;
  lastMono: number;
  inside: boolean;
  enteredMono: number;
  /** When the estimate first went beyond the exit distance during this stay; NaN while near. */
  outsideSinceMono: number;
  dwelled: boolean;
}

/** Upper bound on tracks kept in memory (a person in a zone); beyond it new tracks are refused and counted. */
export const MAX_TRACKS = 200_000;

/** Log-distance path loss: d = 10 ^ ((P1m - RSSI) / (10 n)), in metres. */
export function estimateDistance(rssi: number, txPowerAt1m: number, exponent: number): number {
  return Math.pow(10, (txPowerAt1m - rssi) / (10 * exponent));
}

/** The RSSI at which the log-distance model puts a device at `distanceM` (the inverse of `estimateDistance`). */
export function rssiAtDistance(distanceM: number, txPowerAt1m: number, exponent: number): number {
  return txPowerAt1m - 10 * exponent * Math.log10(distanceM);
}

/**
 * Turns noisy RSSI samples into zone enter / dwell / exit, per person and zone.
 * Smoothing (EMA or a 1-D Kalman filter) tames the noise; two distances give
 * hysteresis; an exit needs `exitAfterMs` outside and never comes sooner than
 * `minDwellMs` after the enter, so a person standing on a boundary does not flap.
 * Pure state machine driven by sample and tick times (monotonic ms): no timers, no I/O.
 */
export class ProximityTracker {
  private readonly tracks = new Map<string, Track>();
  private settings: ProximitySettings;
  private threshold: { enterRssiOffset: number; exitRssiOffset: number } = { enterRssiOffset: 0, exitRssiOffset: 0 };

  constructor(settings: ProximitySettings, private readonly emit: (t: ZoneTransition) => void) {
    this.settings = settings;
    this.configure(settings);
  }

  /** New settings (config reload); people keep their current state. */
  configure(settings: ProximitySettings): void {
    this.settings = settings;
    // Compare in the log domain: distance <= D  <=>  txPower - estimate <= 10 n log10(D). Saves a pow() per sample.
    this.threshold = { enterRssiOffset: 10 * Math.log10(settings.enterDistanceM), exitRssiOffset: 10 * Math.log10(settings.exitDistanceM) };
  }

  get size(): number {
    return this.tracks.size;
  }

  /** People currently inside `zone`. */
  occupancy(zone: string): number {
    let n = 0;
    for (const t of this.tracks.values()) if (t.inside && t.zone === zone) n++;
    return n;
  }

  /** People inside, per zone (one pass over the tracks; for the metrics scrape). */
  occupancyByZone(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.tracks.values()) if (t.inside) out.set(t.zone, (out.get(t.zone) ?? 0) + 1);
    return out;
  }

  observe(s: ProximitySample): SampleResult {
    const key = s.person + '\u0000' + s.zone;
    let t = this.tracks.get(key);
    const cfg = this.settings;
    if (!t) {
      if (this.tracks.size >= MAX_TRACKS) return 'tracker_full';
      t = {
        person: s.person,
        zone: s.zone,
        holderRef: s.holderRef,
        beacon: s.beacon,
        observer: s.observer,
        estimate: s.rssi,
        variance: cfg.kalmanMeasurementNoise,
        samples: 1,
        lastMono: s.monoAt,
        inside: false,
        enteredMono: 0,
        outsideSinceMono: Number.NaN,
        dwelled: false,
      };
      this.tracks.set(key, t);
    } else {
      // A sample older than the last one (reordered delivery, a clock that stepped back) would rewind the filter.
      if (s.monoAt < t.lastMono) return 'out_of_order';
      if (s.monoAt - t.lastMono >= cfg.lostAfterMs && !t.inside) {
        // Seen again after a long silence: start the filter afresh rather than averaging with stale history.
        t.estimate = s.rssi;
        t.variance = cfg.kalmanMeasurementNoise;
        t.samples = 1;
      } else if (cfg.smoothing === 'kalman') {
        const dtS = (s.monoAt - t.lastMono) / 1000;
        const predicted = t.variance + cfg.kalmanProcessNoise * dtS;
        const gain = predicted / (predicted + cfg.kalmanMeasurementNoise);
        t.estimate += gain * (s.rssi - t.estimate);
        t.variance = (1 - gain) * predicted;
        t.samples++;
      } else {
        t.estimate += cfg.emaAlpha * (s.rssi - t.estimate);
        t.samples++;
      }
      t.lastMono = s.monoAt;
      t.holderRef = s.holderRef;
      t.beacon = s.beacon;
      t.observer = s.observer;
    }
    const margin = (s.txPower - t.estimate) / s.exponent;
    if (!t.inside) {
      if (t.samples >= cfg.minSamples && margin <= this.threshold.enterRssiOffset) {
        t.inside = true;
        t.enteredMono = s.monoAt;
        t.outsideSinceMono = Number.NaN;
        t.dwelled = false;
        this.emit({ kind: 'entered', person: t.person, zone: t.zone, monoAt: s.monoAt, distanceM: estimateDistance(t.estimate, s.txPower, s.exponent), rssi: Math.round(t.estimate), ...ids(t) });
      }
      return 'accepted';
    }
    if (margin > this.threshold.exitRssiOffset) {
      if (Number.isNaN(t.outsideSinceMono)) t.outsideSinceMono = s.monoAt;
    } else {
      t.outsideSinceMono = Number.NaN;
    }
    this.advance(t, s.monoAt);
    return 'accepted';
  }

  /** Time passes without samples: dwell thresholds, pending exits and people who were lost. Call about once a second. */
  tick(nowMono: number): void {
    const lostAfter = this.settings.lostAfterMs;
    for (const [key, t] of this.tracks) {
      const silentFor = nowMono - t.lastMono;
      if (!t.inside) {
        if (silentFor >= lostAfter) this.tracks.delete(key);
        continue;
      }
      if (silentFor >= lostAfter && nowMono - t.enteredMono >= this.settings.minDwellMs) {
        this.tracks.delete(key);
        t.inside = false;
        this.emit({ kind: 'exited', person: t.person, zone: t.zone, monoAt: nowMono, dwellMs: Math.max(0, t.lastMono - t.enteredMono), reason: 'lost', ...ids(t) });
        continue;
      }
      this.advance(t, nowMono);
    }
  }

  /** Everyone inside leaves now (shutdown): returns the exits without the minimum-dwell wait. */
  drain(nowMono: number): void {
    for (const t of this.tracks.values()) {
      if (t.inside) this.emit({ kind: 'exited', person: t.person, zone: t.zone, monoAt: nowMono, dwellMs: Math.max(0, nowMono - t.enteredMono), reason: 'lost', ...ids(t) });
    }
    this.tracks.clear();
  }

  private advance(t: Track, nowMono: number): void {
    const cfg = this.settings;
    const stayed = nowMono - t.enteredMono;
    if (!Number.isNaN(t.outsideSinceMono) && nowMono - t.outsideSinceMono >= cfg.exitAfterMs && stayed >= cfg.minDwellMs) {
      t.inside = false;
      t.outsideSinceMono = Number.NaN;
      this.emit({ kind: 'exited', person: t.person, zone: t.zone, monoAt: nowMono, dwellMs: stayed, reason: 'moved_away', ...ids(t) });
      return;
    }
    if (!t.dwelled && stayed >= cfg.dwellEventMs) {
      t.dwelled = true;
      this.emit({ kind: 'dwelled', person: t.person, zone: t.zone, monoAt: nowMono, dwellMs: stayed, ...ids(t) });
    }
  }
}

function ids(t: Track): { holderRef?: string; beacon: string; observer: string } {
  return t.holderRef === undefined ? { beacon: t.beacon, observer: t.observer } : { holderRef: t.holderRef, beacon: t.beacon, observer: t.observer };
}

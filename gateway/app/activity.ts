import type { BusTopics } from '../bus/bus.js';

export interface LaneActivity {
  at: number;
  result: string;
  reason: string;
  holderRef?: string;
}

/**
 * What the status page shows about recent traffic: the last decisions per lane
 * (holder refs only, no personal data) and decisions per minute for the last
 * hour. Fixed-size buffers: memory does not grow with traffic.
 */
export class Activity {
  private readonly perLane = new Map<string, LaneActivity[]>();
  private readonly minutes = new Map<number, { granted: number; denied: number }>();

  constructor(
    private readonly perLaneLimit = 10,
    private readonly minutesKept = 60,
  ) {}

  record(d: BusTopics['decision']): void {
    let list = this.perLane.get(d.laneId);
    if (!list) {
      list = [];
      this.perLane.set(d.laneId, list);
    }
    list.unshift({ at: d.at, result: d.result, reason: d.reason, ...(d.holderRef ? { holderRef: d.holderRef } : {}) });
    if (list.length > this.perLaneLimit) list.length = this.perLaneLimit;

    const minute = Math.floor(d.at / 60_000);
    let bucket = this.minutes.get(minute);
    if (!bucket) {
      bucket = { granted: 0, denied: 0 };
      this.minutes.set(minute, bucket);
      for (const m of this.minutes.keys()) if (m <= minute - this.minutesKept) this.minutes.delete(m);
    }
    bucket[d.result]++;
  }

  lanes(): Record<string, LaneActivity[]> {
    return Object.fromEntries(this.perLane);
  }

  /** Oldest first, one entry per minute that had decisions. */
  perMinute(): Array<{ minute: string; granted: number; denied: number }> {
    return [...this.minutes.entries()].sort((a, b) => a[0] - b[0]).map(([m, c]) => ({ minute: new Date(m * 60_000).toISOString(), ...c }));
  }
}

import type { LaneConfig } from '../../config/sections/access.js';

/** Where a lane's decision goes: the reader that asked and, when separate, the relay device. */
export interface LaneRoute {
  lane: LaneConfig;
  readerDevice: string;
  reader: string | undefined;
  /** Relay device and output, when the release is not done by the reader device itself. */
  output: { device: string; output: string | undefined } | undefined;
  pulseMs: number;
}

/** Default relay pulse when a lane names no output: long enough for a turnstile to unlock. */
export const DEFAULT_PULSE_MS = 1000;

/**
 * Finds the lane of a read by (device, reader) in O(1); built once at start
 * or reload so the decision path does no config walking.
 */
export class LaneRouter {
  private readonly byReader = new Map<string, LaneRoute>();

  constructor(lanes: LaneConfig[]) {
    for (const lane of lanes) {
      const output = lane.output && lane.output.device !== lane.reader.device ? { device: lane.output.device, output: lane.output.output } : undefined;
      this.byReader.set(key(lane.reader.device, lane.reader.reader), {
        lane,
        readerDevice: lane.reader.device,
        reader: lane.reader.reader,
        output,
        pulseMs: lane.output?.pulseMs ?? DEFAULT_PULSE_MS,
      });
    }
  }

  route(deviceId: string, reader: string | undefined): LaneRoute | undefined {
    return this.byReader.get(key(deviceId, reader)) ?? (reader !== undefined ? this.byReader.get(key(deviceId, undefined)) : undefined);
  }

  get size(): number {
    return this.byReader.size;
  }
}

function key(device: string, reader: string | undefined): string {
  return reader === undefined ? device : `${device}\u0000${reader}`;
}

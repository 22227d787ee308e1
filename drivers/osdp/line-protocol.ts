import type { LineEvent, LineSettings } from './line.js';

/** Messages between the OSDP line host (line-host.ts, the gateway's main thread) and its worker (line-worker.ts). */

export interface WireCommand {
  code: number;
  /** A Buffer on the sending side; structured clone delivers a Uint8Array. */
  data: Uint8Array;
}

export type ToLineWorker =
  | { type: 'open'; id: string; settings: LineSettings }
  | { type: 'feedback'; id: string; address: number; commands: WireCommand[] }
  | { type: 'stop'; id: string };

export type FromLineWorker =
  /** The line's first open attempt is over (the driver's `start()` resolves). */
  | { type: 'started'; id: string }
  | { type: 'event'; id: string; event: LineEvent }
  /** Completed exchanges since the last such message, as [address, count] pairs. */
  | { type: 'exchanges'; id: string; counts: Array<[number, number]> }
  | { type: 'stopped'; id: string };

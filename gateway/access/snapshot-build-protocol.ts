import type { Credential } from '../core/types.js';

/** Messages between the event loop (snapshot-builder.ts) and the build process (snapshot-build-process.ts). */

/** Records the event loop has checked and serialised: `counts[i]` credentials of `credentials` belong to record i. */
export interface BuildBatch {
  refs: string[];
  bodies: string[];
  counts: number[];
  credentials: Array<Pick<Credential, 'kind' | 'value'>>;
  /** [record index in this batch, event id, start ms, end ms], in index order. */
  events: Array<[number, string, number, number]>;
}

/** A record the build skipped, and why (logged and counted by the event loop). */
export interface BuildProblem {
  line: number;
  holder: unknown;
  problem: string;
}

export interface BuildSql {
  insertHolder: string;
  insertCredential: string;
  insertTicketEvent: string;
  setMeta: string;
}

export type ToBuilder =
  | { type: 'open'; path: string; setup: string; sql: BuildSql; key: Uint8Array; hashBytes: number; cacheKib: number }
  | ({ type: 'batch' } & BuildBatch)
  | { type: 'file'; file: string; fromByte: number; firstLine: number }
  | { type: 'finish'; path: string; meta: Array<[string, string]> };

export type FromBuilder =
  | { type: 'ready' }
  | { type: 'ack'; duplicates: string[] }
  | { type: 'progress'; records: number; duplicates: string[]; skipped: BuildProblem[] }
  | { type: 'read'; records: number }
  | { type: 'done'; holders: number; credentials: number }
  | { type: 'failed'; message: string; code?: string };

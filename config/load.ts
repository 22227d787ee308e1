import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';
import type { ErrorCode } from '../gateway/errors.js';

/** One problem in a config file, printed as `FILE:LINE:COL: key.path: message`. */
export interface ConfigProblem {
  code: ErrorCode;
  file: string;
  line: number;
  col: number;
  /** Dotted key path, e.g. `lanes.2.zone`; empty for the document itself. */
  path: string;
  message: string;
}

export interface LoadedConfig {
  config: GatewayConfig;
  file: string;
  /** Directory of the config file: relative paths in the config resolve against it. */
  baseDir: string;
}

export type LoadResult = { ok: true; value: LoadedConfig } | { ok: false; problems: ConfigProblem[] };

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path || '(document)'}: ${p.message}`;
}

/** Reads, parses and validates a config file; never throws for bad input. */
export function loadConfigFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read file: ${(err as Error).message}`;
    return { ok: false, problems: [{ code: 'GH_CONFIG_NOT_FOUND', file, line: 1, col: 1, path: '', message: reason }] };
  }
  return parseConfigText(text, file);
}

/** Parses and validates config text; `file` is used for messages and relative paths. */
export function parseConfigText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const e of doc.errors) {
    const pos = lineCounter.linePos(e.pos[0]);
    problems.push({ code: 'GH_CONFIG_YAML', file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? e.message });
  }
  if (problems.length > 0) return { ok: false, problems };

  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || raw === undefined) {
    return { ok: false, problems: [{ code: 'GH_CONFIG_INVALID', file, line: 1, col: 1, path: '', message: 'the config file is empty' }] };
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.flatMap((issue) => issueToProblems(issue, doc, lineCounter, file)) };
  }
  return { ok: true, value: { config: parsed.data, file, baseDir: dirname(resolve(file)) } };
}

type Issue = z.core.$ZodIssue;

function issueToProblems(issue: Issue, doc: Document, lc: LineCounter, file: string): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? p.toString() : p));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const pos = position(doc, lc, [...path, key], true);
      return { code: 'GH_CONFIG_INVALID' as const, file, ...pos, path: [...path, key].join('.'), message: `unknown key "${key}"` };
    });
  }
  if (issue.code === 'invalid_union' && 'errors' in issue && issue.errors.length > 0) {
    // Report the branch that got furthest (most specific) rather than "invalid input".
    const branches = issue.errors as Issue[][];
    const best = branches.reduce((a, b) => (depth(b) > depth(a) ? b : a));
    return best.flatMap((sub) => issueToProblems({ ...sub, path: [...issue.path, ...sub.path] } as Issue, doc, lc, file));
  }
  const pos = position(doc, lc, path, false);
  return [{ code: 'GH_CONFIG_INVALID', file, ...pos, path: path.join('.'), message: describe(issue) }];
}

function depth(issues: Issue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function describe(issue: Issue): string {
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `required key is missing (expected ${issue.expected})`;
  return issue.message;
}

/** Line/column of the node at `path`, or of its nearest existing ancestor (a missing key points at its parent). */
function position(doc: Document, lc: LineCounter, path: Array<string | number>, atKey: boolean): { line: number; col: number } {
  let node: Node | null = doc.contents as Node | null;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(seg));
      if (!pair) break;
      const isLast = i === path.length - 1;
      const keyNode = pair.key as Node | null;
      if (isLast && atKey && keyNode?.range) {
        offset = keyNode.range[0];
        node = null;
        break;
      }
      node = (pair.value as Node | null) ?? null;
      offset = node?.range?.[0] ?? keyNode?.range?.[0] ?? offset;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return lc.linePos(offset);
}

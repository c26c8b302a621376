// Which parts of the policy input a policy set reads, found in its sources when it is loaded, so that
// a verdict can be reused for every input that agrees on those parts (enforce/decision-cache.ts):
// another session of the same identity, or the same statement with other literal values.

import { frozenJson } from './frozen-json.ts';
import type { InputPath, InputReads, PolicyInput } from './types.ts';

export type { InputPath, InputReads } from './types.ts';

export const READS_ALL: InputReads = Object.freeze({ kind: 'all' });

/**
 * The input paths Rego sources refer to. Every `input` outside comments and strings counts: followed
 * by `.name` or `["name"]` segments it reads that path (two levels kept: the rest is inside it);
 * alone (`import input`, `f(input)`, `with input as`, `input[x]`) it may read anything. So may a
 * template string (`$"...{expr}..."`, `` $`...` ``): its expressions are not scanned.
 */
export function regoInputReads(sources: readonly string[]): InputReads {
  const paths: InputPath[] = [];
  for (const source of sources) {
    for (let i = 0; i < source.length; ) {
      const c = source[i]!;
      if (c === '$' && (source[i + 1] === '"' || source[i + 1] === '`')) {
        // A template string ($"... {expr} ..."): its {expressions} are code that may read any part
        // of the input, which a string skip would miss (red-team round 7, R7-1).
        return READS_ALL;
      } else if (c === '#') {
        const eol = source.indexOf('\n', i);
        i = eol < 0 ? source.length : eol;
      } else if (c === '"') {
        i = stringEnd(source, i);
      } else if (c === '`') {
        const end = source.indexOf('`', i + 1);
        i = end < 0 ? source.length : end + 1;
      } else if (isIdentStart(c)) {
        let end = i + 1;
        while (end < source.length && isIdentPart(source[end]!)) end++;
        if (source.slice(i, end) === 'input') {
          const read = pathAfter(source, end);
          if (read.path.length === 0) return READS_ALL;
          paths.push(read.path.length === 1 ? [read.path[0]!] : [read.path[0]!, read.path[1]!]);
          end = read.end;
        }
        i = end;
      } else {
        i++;
      }
    }
  }
  return { kind: 'paths', paths: normalizePaths(paths) };
}

/**
 * What a Rego engine's verdicts depend on: what its sources read, and statement.trigger_functions, from
 * which the engine keeps the reviewed entries the statement fires (combine.ts withReviewed) even when no
 * source reads it (a constant `reviewed` set): without it a cached verdict's reviewed list would be
 * reused for a statement that fires other functions.
 */
export function regoVerdictReads(sources: readonly string[]): InputReads {
  const reads = regoInputReads(sources);
  return reads.kind === 'all' ? reads : { kind: 'paths', paths: normalizePaths([...reads.paths, ['statement', 'trigger_functions']]) };
}

/** Cedar sees all of the identity and the statement except its text (policy/cedar-engine.ts). */
const CEDAR_STATEMENT_FIELDS: Record<Exclude<keyof PolicyInput['statement'], 'text'>, true> = {
  fingerprint: true,
  protocol: true,
  kind: true,
  command: true,
  tables_read: true,
  tables_written: true,
  columns: true,
  functions: true,
  user_functions: true,
  triggers: true,
  trigger_functions: true,
  replaceable_functions: true,
  runs_sql_text: true,
  has_where: true,
  unbounded_writes: true,
  locks_rows: true,
  has_limit: true,
  writes: true,
  cte_writes: true,
  explain_analyze: true,
  inner_kind: true,
  prepared_name: true,
  copy: true,
  setting: true,
  settings: true,
};

/** The session fields cedar-engine.ts puts in a request's context, by the attribute name policies use. */
const CEDAR_SESSION_ATTRIBUTES: ReadonlyArray<[string, keyof PolicyInput['session']]> = [
  ['session_user', 'user'],
  ['application_name', 'application_name'],
  ['client_address', 'client_address'],
  ['tls', 'tls'],
];

/**
 * The input paths a Cedar request can carry to these policies: the identity, the database, the
 * statement's facts, and a session attribute only when some policy text names it.
 */
export function cedarInputReads(policyTexts: readonly string[]): InputReads {
  const paths: InputPath[] = [['identity'], ['session', 'database']];
  for (const field of Object.keys(CEDAR_STATEMENT_FIELDS)) paths.push(['statement', field]);
  for (const [attribute, field] of CEDAR_SESSION_ATTRIBUTES) {
    if (policyTexts.some((t) => t.includes(attribute))) paths.push(['session', field]);
  }
  return { kind: 'paths', paths: normalizePaths(paths) };
}

/**
 * A string equal for two inputs exactly when they agree on every path read (JSON of the values,
 * in path order; a missing value is told apart from null).
 */
export function inputKey(input: PolicyInput, reads: InputReads): string {
  if (reads.kind === 'all') return JSON.stringify(input);
  // JSON.stringify(values), made value by value: the session's identity and session parts are
  // frozen and shared, and their JSON is made once (policy/frozen-json.ts).
  let key = '[';
  const top = input as unknown as Record<string, unknown>;
  for (let i = 0; i < reads.paths.length; i++) {
    const path = reads.paths[i]!;
    let value = top[path[0]];
    if (path.length === 2) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[path[1]] : undefined;
    key += (i === 0 ? '' : ',') + (value === undefined ? MISSING_JSON : (frozenJson(value) ?? 'null'));
  }
  return `${key}]`;
}

/** Stands for an absent value in a key: no input string holds a NUL. */
const MISSING = '\u0000missing';
const MISSING_JSON = JSON.stringify(MISSING);

/** Sorted, unique, and without a path inside another one read whole. */
function normalizePaths(paths: readonly InputPath[]): InputPath[] {
  const whole = new Set(paths.filter((p) => p.length === 1).map((p) => p[0]));
  const seen = new Map<string, InputPath>();
  for (const p of paths) {
    if (p.length === 2 && whole.has(p[0])) continue;
    seen.set(p.join('.'), p);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/** Up to two `.name` / `["name"]` segments after `input`, and where they end. */
function pathAfter(source: string, at: number): { path: string[]; end: number } {
  const path: string[] = [];
  let i = at;
  while (path.length < 2) {
    if (source[i] === '.' && i + 1 < source.length && isIdentStart(source[i + 1]!)) {
      let end = i + 2;
      while (end < source.length && isIdentPart(source[end]!)) end++;
      path.push(source.slice(i + 1, end));
      i = end;
    } else if (source[i] === '[' && source[i + 1] === '"') {
      const end = stringEnd(source, i + 1);
      if (source[end] !== ']') break;
      let name: unknown;
      try {
        name = JSON.parse(source.slice(i + 1, end));
      } catch {
        break;
      }
      if (typeof name !== 'string') break;
      path.push(name);
      i = end + 1;
    } else {
      break;
    }
  }
  return { path, end: i };
}

/** The index just past the double-quoted string starting at `start`. */
function stringEnd(source: string, start: number): number {
  let i = start + 1;
  while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, source.length);
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}

// The decision-cache key of a session's last statement, kept so that the next one that agrees on every
// path the policy reads gets the very same key string back (enforce/decision-cache.ts keyFor). Making
// the key (a dozen JSON parts concatenated) and hashing the new string in the cache's Map lookup were
// the largest costs of a cached decision after allocation; a string already used as a key has its hash.
//
// A value is taken as unchanged only when it cannot have changed: a primitive equal to the last one, the
// same object when that object is frozen throughout (policy/frozen-json.ts: the identity part, a shape's
// derived lists), or an empty array both times. Anything else makes the key afresh.
//
// Two checks, the first one the same few dozen fields whatever the engine: the whole input but the
// statement's text unchanged (the usual case: a statement of the same shape again) gives the last key for
// any reads that do not reach the text. Only then are the read paths walked one by one (as many as the
// policies read: Cedar's requests carry every statement fact, so that walk cost Cedar twice Rego's).

import { frozenThroughout } from './frozen-json.ts';
import { inputKey, type InputReads } from './input-reads.ts';
import type { PolicyInput } from './types.ts';

/**
 * How a value was seen when the last key was made: a primitive (or undefined), equal again when ===;
 * an object frozen throughout, the same again when it is the same object; an empty array with no
 * toJSON, the same again for any such array; anything else, never taken as unchanged.
 */
type Seen = 'primitive' | 'frozen' | 'empty-array' | 'other';

type StatementField = Exclude<keyof PolicyInput['statement'], 'text'>;

/**
 * Every field of input.statement but its text, by its slot in the whole-input check (sameButText reads
 * each by name; tsc fails here when PolicyInput gains a field, and input-key-memo.test.ts changes each
 * field of a built input and expects a miss).
 */
const STATEMENT_SLOTS = {
  fingerprint: 3,
  protocol: 4,
  kind: 5,
  command: 6,
  tables_read: 7,
  tables_written: 8,
  columns: 9,
  functions: 10,
  user_functions: 11,
  triggers: 12,
  trigger_functions: 13,
  runs_sql_text: 14,
  has_where: 15,
  unbounded_writes: 16,
  locks_rows: 17,
  has_limit: 18,
  writes: 19,
  cte_writes: 20,
  explain_analyze: 21,
  inner_kind: 22,
  prepared_name: 23,
  copy: 24,
  setting: 25,
  settings: 26,
  replaceable_functions: 27,
} as const satisfies Record<StatementField, number>;

/** Slots 0-2 hold input.version, input.identity and input.session; then the statement's fields. */
const SLOTS = 28;

/** The input's top-level fields the whole-input check covers (all a built PolicyInput has). */
const COVERED_TOP: ReadonlySet<string> = new Set(['version', 'identity', 'session', 'statement']);

export class InputKeyMemo {
  private reads: InputReads | null = null;
  private prefix = '';
  private values: unknown[] = [];
  private seen: Seen[] = [];
  /** The whole input's values by slot (SLOTS), and how each was seen; empty until a key was made. */
  private whole: unknown[] = [];
  private wholeSeen: Seen[] = [];
  /** Whether every path of `reads` lies in what the whole-input check covers (not the statement's text). */
  private covered = false;
  private key = '';

  /** `${prefix}${inputKey(input, reads)}`, the same string as last time when nothing read changed. */
  keyOf(prefix: string, input: PolicyInput, reads: InputReads): string {
    if (reads.kind === 'all') return `${prefix}${inputKey(input, reads)}`;
    if (reads !== this.reads || prefix !== this.prefix) return this.made(prefix, input, reads);
    if (this.covered && sameButText(input, this.whole, this.wholeSeen)) return this.key;
    const paths = reads.paths;
    const top = input as unknown as Record<string, unknown>;
    for (let i = 0; i < paths.length; i++) if (!unchanged(valueAt(top, paths[i]!), this.values[i], this.seen[i]!)) return this.made(prefix, input, reads);
    // The paths read are unchanged. The whole-input check keeps the input the key was made from: taking
    // this one would cost a snapshot per statement where shapes alternate, and the check fails early.
    return this.key;
  }

  private made(prefix: string, input: PolicyInput, reads: Extract<InputReads, { kind: 'paths' }>): string {
    const key = `${prefix}${inputKey(input, reads)}`;
    const paths = reads.paths;
    const top = input as unknown as Record<string, unknown>;
    // Recorded after inputKey, which has made the JSON of every frozen value.
    this.values = paths.map((p) => valueAt(top, p));
    this.seen = this.values.map(seenAs);
    this.covered = paths.every(coveredPath);
    this.remember(input);
    this.reads = reads;
    this.prefix = prefix;
    this.key = key;
    return key;
  }

  private remember(input: PolicyInput): void {
    const whole = new Array<unknown>(SLOTS);
    whole[0] = input.version;
    whole[1] = input.identity;
    whole[2] = input.session;
    const s = input.statement as unknown as Record<string, unknown>;
    for (const [field, slot] of Object.entries(STATEMENT_SLOTS)) whole[slot] = s[field];
    this.whole = whole;
    this.wholeSeen = whole.map(seenAs);
  }
}

/** Whether a read path lies in a value the whole-input check compares. */
function coveredPath(path: readonly [string] | readonly [string, string]): boolean {
  if (!COVERED_TOP.has(path[0])) return false;
  if (path[0] !== 'statement') return true;
  return path.length === 2 && Object.hasOwn(STATEMENT_SLOTS, path[1]);
}

/**
 * Whether every value of `input` but the statement's text is unchanged from `values` (by slot), each by
 * how it was seen. The fields are read by name, not by path: the same few dozen loads for every engine.
 */
function sameButText(input: PolicyInput, values: readonly unknown[], seen: readonly Seen[]): boolean {
  const s = input.statement;
  return (
    unchanged(input.version, values[0], seen[0]!) &&
    unchanged(input.identity, values[1], seen[1]!) &&
    unchanged(input.session, values[2], seen[2]!) &&
    unchanged(s.fingerprint, values[3], seen[3]!) &&
    unchanged(s.protocol, values[4], seen[4]!) &&
    unchanged(s.kind, values[5], seen[5]!) &&
    unchanged(s.command, values[6], seen[6]!) &&
    unchanged(s.tables_read, values[7], seen[7]!) &&
    unchanged(s.tables_written, values[8], seen[8]!) &&
    unchanged(s.columns, values[9], seen[9]!) &&
    unchanged(s.functions, values[10], seen[10]!) &&
    unchanged(s.user_functions, values[11], seen[11]!) &&
    unchanged(s.triggers, values[12], seen[12]!) &&
    unchanged(s.trigger_functions, values[13], seen[13]!) &&
    unchanged(s.runs_sql_text, values[14], seen[14]!) &&
    unchanged(s.has_where, values[15], seen[15]!) &&
    unchanged(s.unbounded_writes, values[16], seen[16]!) &&
    unchanged(s.locks_rows, values[17], seen[17]!) &&
    unchanged(s.has_limit, values[18], seen[18]!) &&
    unchanged(s.writes, values[19], seen[19]!) &&
    unchanged(s.cte_writes, values[20], seen[20]!) &&
    unchanged(s.explain_analyze, values[21], seen[21]!) &&
    unchanged(s.inner_kind, values[22], seen[22]!) &&
    unchanged(s.prepared_name, values[23], seen[23]!) &&
    unchanged(s.copy, values[24], seen[24]!) &&
    unchanged(s.setting, values[25], seen[25]!) &&
    unchanged(s.settings, values[26], seen[26]!) &&
    unchanged(s.replaceable_functions, values[27], seen[27]!)
  );
}

function valueAt(top: Record<string, unknown>, path: readonly [string] | readonly [string, string]): unknown {
  const value = top[path[0]];
  if (path.length === 1) return value;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[path[1]] : undefined;
}

function isEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0 && !('toJSON' in value);
}

/** How a value is seen; a frozen empty list (the builder's shared ones) as frozen: the same again by reference, without isEmptyArray's loads. */
function seenAs(value: unknown): Seen {
  if (typeof value !== 'object' || value === null) return typeof value === 'function' ? 'other' : 'primitive';
  if (frozenThroughout(value)) return 'frozen';
  return isEmptyArray(value) ? 'empty-array' : 'other';
}

/**
 * Whether `value` is unchanged from `last`, seen as `seen`. Not a switch: it runs two dozen times per
 * statement and stays small enough to be inlined into sameButText; `'other'` is never unchanged.
 */
function unchanged(value: unknown, last: unknown, seen: Seen): boolean {
  return seen === 'primitive' || seen === 'frozen' ? value === last : seen === 'empty-array' && isEmptyArray(value);
}

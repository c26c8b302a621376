// The JSON of an audit record without its `v` (audit/chain.ts puts v, seq and prev first). The
// statement and outcome records, written for every statement, are made field by field so that the
// parts their session shares (the identity and session parts of its policy input, frozen) are
// serialized once per session (policy/frozen-json.ts), not once per record; the text is what
// JSON.stringify of the record makes (a record whose fields are not in the order below gets exactly that).

import { frozenJson } from '../policy/frozen-json.ts';
import type { AuditRecord } from './types.ts';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;
type OutcomeRecord = Extract<AuditRecord, { type: 'outcome' }>;
type Input = NonNullable<StatementRecord['input']>;

/** Every field of a statement record, in the order its JSON has them (a new field fails to compile until listed). */
const STATEMENT_ORDER = fieldsInOrder<StatementRecord>()({
  v: 0,
  type: 1,
  time: 2,
  decision_id: 3,
  session_id: 4,
  identity: 5,
  client_address: 6,
  application_name: 7,
  statement: 8,
  forwarded: 9,
  sealed: 10,
  fingerprint: 11,
  input: 12,
  decision: 13,
  reason: 14,
  policies: 15,
  masks: 16,
  engine: 17,
  revision: 18,
});
const OUTCOME_ORDER = fieldsInOrder<OutcomeRecord>()({
  v: 0,
  type: 1,
  time: 2,
  decision_id: 3,
  session_id: 4,
  identity: 5,
  revision: 6,
  outcome: 7,
  detected: 8,
  subjects: 9,
});
const INPUT_ORDER = fieldsInOrder<Input>()({ version: 0, identity: 1, session: 2, statement: 3 });

/** JSON.stringify(record) without `v`, as `{...}`. */
export function recordBodyJson(record: AuditRecord): string {
  if (record.type === 'statement' || record.type === 'outcome') {
    const body = bodyInOrder(record, record.type === 'statement' ? STATEMENT_ORDER : OUTCOME_ORDER);
    if (body !== null) return body;
  }
  const json = JSON.stringify(record);
  // Records are built with `v` first, so their JSON is `{"v":1,` and the rest in order: cut `v` out
  // (cheaper than serializing a copy made without it).
  const lead = `{"v":${JSON.stringify(record.v)},`;
  if (json.startsWith(lead)) return `{${json.slice(lead.length)}`;
  const { v: _v, ...rest } = record;
  return JSON.stringify(rest);
}

/** Null when the record has a field the order does not know, or its fields in another order. */
function bodyInOrder(record: StatementRecord | OutcomeRecord, order: FieldOrder): string | null {
  if (!inOrder(record, order)) return null;
  let json = '{';
  const fields = record as unknown as Record<string, unknown>;
  for (const key of order.keys) {
    if (key === 'v') continue;
    const value = fields[key];
    if (value === undefined) continue;
    let part: string | null | undefined;
    if (key === 'input' && record.type === 'statement' && value !== null) {
      part = inputJson(value as Input);
      if (part === null) return null;
    } else {
      part = frozenJson(value);
    }
    if (part === undefined) continue;
    json += `${json.length === 1 ? '' : ','}${JSON.stringify(key)}:${part}`;
  }
  return `${json}}`;
}

function inputJson(input: Input): string | null {
  if (!inOrder(input, INPUT_ORDER) || input.identity === undefined || input.session === undefined || input.statement === undefined) return null;
  return `{"version":${JSON.stringify(input.version)},"identity":${frozenJson(input.identity)},"session":${frozenJson(input.session)},"statement":${JSON.stringify(input.statement)}}`;
}

interface FieldOrder {
  keys: readonly string[];
  rank: ReadonlyMap<string, number>;
}

/** `object`'s own keys are known and come in the order given (undefined-valued ones are skipped by JSON too). */
function inOrder(object: object, order: FieldOrder): boolean {
  let last = -1;
  for (const key in object) {
    const rank = order.rank.get(key);
    if (rank === undefined || rank < last) return false;
    last = rank;
  }
  return true;
}

function fieldsInOrder<T>(): (ranks: { [K in keyof Required<T>]: number }) => FieldOrder {
  return (ranks) => {
    const keys = Object.keys(ranks).sort((a, b) => (ranks as Record<string, number>)[a]! - (ranks as Record<string, number>)[b]!);
    return { keys, rank: new Map(keys.map((k, i) => [k, i])) };
  };
}

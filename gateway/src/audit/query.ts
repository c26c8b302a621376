// Asks the audit log which statements match: reads statement records from a record source (files
// or the audit table) in log order, joins each with its outcome and its approval, and keeps those
// every filter accepts.

import type { DecisionAction } from '../policy/types.ts';
import type { AuditRecordSource } from './record-source.ts';
import type { AuditRecord, StatementOutcome } from './types.ts';
import type { SubjectsRecord } from './subjects.ts';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;
type ApprovalState = Extract<AuditRecord, { type: 'approval' }>['state'];

/** One statement as the log tells it: what was asked, what was decided, what came of it. */
export interface AccessRow {
  time: string;
  decision_id: string;
  session_id: string;
  identity: { subject: string; issuer: string; name: string | null; groups: string[] } | null;
  client_address: string;
  application_name: string;
  database: string | null;
  /** The statement with its literals as $n (as recorded). */
  statement: string;
  fingerprint: string;
  /** The statement's kind (select, insert, ddl, ...) and parse-tree command (SelectStmt, ...); null when unparsed. */
  kind: string | null;
  command: string | null;
  decision: DecisionAction;
  reason: string;
  policies: string[];
  /** Masked columns, as table.column. */
  masked: string[];
  tables_read: string[];
  tables_written: string[];
  /** Columns the statement used, as table.column. */
  columns: string[];
  engine: string | null;
  revision: string | null;
  /** Null when no outcome record was found (the log ends first, or the process died). */
  outcome: StatementOutcome | null;
  /** For approve decisions: the request's last state in the log (null: none recorded). */
  approval: ApprovalState | null;
  /** For approve decisions: the reason the requester gave (a reason: comment or gatehouse.reason), when recorded. */
  purpose?: string | null;
  /** From the outcome record: the subjects of the rows returned or written, by PHI table (audit.phi_tables). */
  subjects?: SubjectsRecord | null;
  /** Where the statement record is: file:line, or table[instance]:seq. */
  at: string;
}

export interface AccessFilter {
  /** Subject or name of the identity (any of them). */
  identities: string[];
  /** Groups of the identity (any of them). */
  groups: string[];
  /** Tables read or written: schema.table, or table in any schema (any of them). */
  tables: string[];
  /** Columns used: table.column, schema.table.column or column (any of them). */
  columns: string[];
  decisions: DecisionAction[];
  /** Policy revisions: a commit (or a prefix of at least 4 hex digits), or dir:... (any of them). */
  revisions: string[];
  sessions: string[];
  since: Date | null;
  until: Date | null;
}

export const NO_FILTER: AccessFilter = {
  identities: [],
  groups: [],
  tables: [],
  columns: [],
  decisions: [],
  revisions: [],
  sessions: [],
  since: null,
  until: null,
};

/** A record's table name matches a filter's: equal, or the filter names no schema and the table part is equal. */
function tableMatches(recorded: string, wanted: string): boolean {
  const r = recorded.toLowerCase();
  const w = wanted.toLowerCase();
  return r === w || (!w.includes('.') && r.endsWith(`.${w}`));
}

function columnMatches(recorded: string, wanted: string): boolean {
  const r = recorded.toLowerCase();
  const w = wanted.toLowerCase();
  if (r === w || r.endsWith(`.${w}`)) return true;
  // table.* : the statement read every column of the table (a star or a whole-row reference), the
  // wanted one among them when the table is its table (any table, for a column named alone).
  if (!r.endsWith('.*')) return false;
  const dot = w.lastIndexOf('.');
  return dot < 0 || tableMatches(r.slice(0, -2), w.slice(0, dot));
}

function revisionMatches(recorded: string | null, wanted: string): boolean {
  if (recorded === null) return false;
  return recorded === wanted || (/^[0-9a-f]{4,}$/i.test(wanted) && recorded.toLowerCase().startsWith(wanted.toLowerCase()));
}

/** Whether the row passes every filter (an empty list accepts anything). */
export function rowMatches(row: AccessRow, f: AccessFilter): boolean {
  const any = <T>(wanted: T[], test: (w: T) => boolean): boolean => wanted.length === 0 || wanted.some(test);
  const time = Date.parse(row.time);
  if (f.since !== null && !(time >= f.since.getTime())) return false;
  if (f.until !== null && !(time < f.until.getTime())) return false;
  return (
    any(f.decisions, (d) => row.decision === d) &&
    any(f.sessions, (s) => row.session_id === s) &&
    any(f.identities, (i) => row.identity !== null && (row.identity.subject === i || row.identity.name === i)) &&
    any(f.groups, (g) => row.identity !== null && row.identity.groups.includes(g)) &&
    any(f.tables, (t) => [...row.tables_read, ...row.tables_written].some((r) => tableMatches(r, t))) &&
    any(f.columns, (c) => row.columns.some((r) => columnMatches(r, c))) &&
    any(f.revisions, (r) => revisionMatches(row.revision, r))
  );
}

function rowOf(record: StatementRecord, at: string): AccessRow {
  const facts = record.input?.statement ?? null;
  const columns = Object.entries(facts?.columns ?? {}).flatMap(([table, cols]) => cols.map((c) => `${table}.${c}`));
  return {
    time: record.time,
    decision_id: record.decision_id,
    session_id: record.session_id,
    identity: record.identity === null ? null : { subject: record.identity.subject, issuer: record.identity.issuer, name: record.identity.name, groups: [...record.identity.groups] },
    client_address: record.client_address,
    application_name: record.application_name,
    database: record.input?.session.database ?? null,
    statement: record.statement,
    fingerprint: record.fingerprint,
    kind: facts?.kind ?? null,
    command: facts?.command ?? null,
    decision: record.decision,
    reason: record.reason,
    policies: record.policies,
    masked: record.masks.map((m) => `${m.table}.${m.column}`),
    tables_read: facts?.tables_read ?? [],
    tables_written: facts?.tables_written ?? [],
    columns,
    engine: record.engine,
    revision: record.revision,
    outcome: null,
    approval: null,
    at,
  };
}

export interface QueryOptions {
  /** Rows waiting for their outcome before the oldest is given out without one (default 10,000). */
  maxPending?: number;
  /** Told of each statement record left out because it is not as Gatehouse writes one (file:line, why). */
  onSkipped?: (at: string, why: string) => void;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const OUTCOME_STATUSES = new Set(['ok', 'error', 'refused', 'aborted']);

/** The row of a statement record, or why it cannot be one (a record edited, or not written by Gatehouse). */
function checkedRowOf(record: StatementRecord, at: string): AccessRow | string {
  let row: AccessRow;
  try {
    row = rowOf(record, at);
  } catch (e) {
    return `not a statement record as Gatehouse writes one (${(e as Error).message})`;
  }
  const strings = ['time', 'decision_id', 'session_id', 'client_address', 'application_name', 'statement', 'fingerprint', 'decision', 'reason'] as const;
  const bad = strings.find((k) => !isString(row[k]));
  if (bad !== undefined) return `not a statement record as Gatehouse writes one (${bad} is not text)`;
  const lists = ['policies', 'masked', 'tables_read', 'tables_written', 'columns'] as const;
  const badList = lists.find((k) => !isStrings(row[k]));
  if (badList !== undefined) return `not a statement record as Gatehouse writes one (${badList} is not a list of names)`;
  if (Number.isNaN(Date.parse(row.time))) return 'not a statement record as Gatehouse writes one (time is not a date and time)';
  if (row.identity !== null && !(isString(row.identity.subject) && isStrings(row.identity.groups))) return 'not a statement record as Gatehouse writes one (identity)';
  return row;
}

/**
 * Yields the matching statements of `source` in the order their statement records were written
 * (log order), each with its outcome once that record is read. A row waits for its outcome while
 * fewer than `maxPending` later rows wait; beyond that, or at the end of the log, it is given out
 * with the outcome it has (null: none recorded). The time range is asked of the source too.
 */
export async function* queryAuditRecords(source: AuditRecordSource, filter: AccessFilter, options: QueryOptions = {}): AsyncGenerator<AccessRow> {
  const maxPending = options.maxPending ?? 10_000;
  const pending: AccessRow[] = []; // matching rows in log order, oldest first
  const byDecision = new Map<string, AccessRow>();
  const done = (row: AccessRow): boolean => row.outcome !== null;
  function* release(all: boolean): Generator<AccessRow> {
    while (pending.length > 0 && (all || done(pending[0]!) || pending.length > maxPending)) {
      const row = pending.shift()!;
      if (byDecision.get(row.decision_id) === row) byDecision.delete(row.decision_id);
      yield row;
    }
  }
  const scope = { types: ['statement', 'outcome', 'approval'] as const, since: filter.since, until: filter.until, decisionId: null };
  for await (const { text, at } of source.lines(scope)) {
    if (!text.includes('"type":"statement"') && !text.includes('"type":"outcome"') && !text.includes('"type":"approval"')) continue;
    let record: AuditRecord;
    try {
      record = JSON.parse(text) as AuditRecord;
    } catch {
      continue; // a torn or edited line: `audit verify` reports it
    }
    switch (record.type) {
      case 'statement': {
        if (byDecision.has(record.decision_id)) break; // a held statement's later record repeats the first
        const row = checkedRowOf(record, at);
        if (typeof row === 'string') {
          options.onSkipped?.(at, row);
          break;
        }
        if (!rowMatches(row, filter)) break;
        pending.push(row);
        byDecision.set(row.decision_id, row);
        break;
      }
      case 'outcome': {
        const row = byDecision.get(record.decision_id);
        const o = record.outcome as unknown;
        if (row !== undefined && typeof o === 'object' && o !== null && OUTCOME_STATUSES.has((o as { status?: unknown }).status as string)) {
          row.outcome = record.outcome;
          if (typeof record.subjects === 'object' && record.subjects !== null) row.subjects = record.subjects;
        }
        break;
      }
      case 'approval': {
        const row = byDecision.get(record.decision_id);
        if (row !== undefined && isString(record.state)) row.approval = record.state;
        if (row !== undefined && record.event === 'requested' && isString(record.reason)) row.purpose = record.reason;
        break;
      }
      default:
        break;
    }
    yield* release(false);
  }
  yield* release(true);
}

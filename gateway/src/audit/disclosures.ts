// Accounting of disclosures (HIPAA 164.528): every recorded access to one data subject's rows, from
// the subject hashes in outcome records (audit/subjects.ts). The subject value is hashed with the
// same key the gateway used; the log (files or the audit table) is read as `audit query` reads it
// (audit/query.ts).

import { NO_FILTER, queryAuditRecords, type AccessRow, type QueryOptions } from './query.ts';
import type { AuditRecordSource } from './record-source.ts';
import type { SubjectHasher } from './subjects.ts';

/** One access to the subject's rows. */
export interface Disclosure {
  time: string;
  decision_id: string;
  session_id: string;
  identity: { subject: string; issuer: string; name: string | null } | null;
  /** The PHI tables whose rows of this subject were returned or written (`possible`: the tables that cannot say). */
  tables: string[];
  /**
   * The columns the statement used of those tables, and of the PHI tables in `why` (table.column;
   * table.* for a star): a table whose subject is unknown may have shown this subject's values too.
   */
  columns: string[];
  /** Masked columns (table.column): the identity saw these only masked. */
  masked: string[];
  kind: string | null;
  decision: AccessRow['decision'];
  /** For a held statement: how its approval ended. */
  approval: AccessRow['approval'];
  /** The policy's reason for the decision. */
  reason: string;
  /** The requester's reason (purpose), when one was recorded with an approval request. */
  purpose: string | null;
  policies: string[];
  revision: string | null;
  outcome: AccessRow['outcome'];
  /**
   * `listed`: the subject is in the statement's subject list. `possible`: the statement read or
   * wrote a PHI table whose subjects are unknown, or whose list was cut at the cap without it.
   */
  match: 'listed' | 'possible';
  /**
   * The PHI tables the statement read or wrote whose subject list cannot say whether this subject
   * was among their rows, with why (a masked subject column, an aggregate, a list cut at the cap).
   * For `listed`, the tables beside the listed ones whose subject is unknown; absent when none.
   */
  why?: Record<string, string>;
  at: string;
}

export interface DisclosureFilter {
  since: Date | null;
  until: Date | null;
  /** Also give out `possible` accesses. */
  includePossible: boolean;
}

/** How many statements touched a PHI table without a list that could say (given out only with includePossible). */
export interface DisclosureStats {
  possible: number;
}

function tableOf(column: string): string {
  return column.endsWith('.*') ? column.slice(0, -2) : column.slice(0, column.lastIndexOf('.'));
}

/** The disclosure a row makes of the subject with hash `hash`, or null. */
export function disclosureOf(row: AccessRow, hash: string): Disclosure | null {
  const subjects = row.subjects;
  if (subjects === null || subjects === undefined || row.outcome === null || row.outcome.status === 'refused' || row.outcome.status === 'aborted') return null;
  const listed: string[] = [];
  const why: Record<string, string> = {};
  for (const [table, t] of Object.entries(subjects)) {
    if (t.status === 'listed') {
      if (t.hashes.includes(hash)) listed.push(table);
      else if (t.truncated) why[table] = `the list was cut at ${t.hashes.length} subjects (of ${t.count} rows)`;
    } else {
      why[table] = t.reason;
    }
  }
  const possible = Object.keys(why);
  if (listed.length === 0 && possible.length === 0) return null;
  const tables = listed.length > 0 ? listed : possible;
  // A table whose subject is unknown (its subject column masked, say) may have shown this subject's
  // values in the same rows: its columns are listed too, under why, never dropped.
  const shown = new Set([...tables, ...possible]);
  return {
    time: row.time,
    decision_id: row.decision_id,
    session_id: row.session_id,
    identity: row.identity === null ? null : { subject: row.identity.subject, issuer: row.identity.issuer, name: row.identity.name },
    tables,
    columns: row.columns.filter((c) => shown.has(tableOf(c))),
    masked: row.masked.filter((c) => shown.has(tableOf(c))),
    kind: row.kind,
    decision: row.decision,
    approval: row.approval,
    reason: row.reason,
    purpose: row.purpose ?? null,
    policies: row.policies,
    revision: row.revision,
    outcome: row.outcome,
    match: listed.length > 0 ? 'listed' : 'possible',
    ...(possible.length > 0 ? { why } : {}),
    at: row.at,
  };
}

/** The accesses to the subject `value` in `source` (in log order), oldest first. */
export async function* disclosuresIn(
  source: AuditRecordSource,
  value: string,
  hasher: SubjectHasher,
  filter: DisclosureFilter,
  stats: DisclosureStats = { possible: 0 },
  options: QueryOptions = {},
): AsyncGenerator<Disclosure> {
  const hash = hasher(value);
  for await (const row of queryAuditRecords(source, { ...NO_FILTER, since: filter.since, until: filter.until }, options)) {
    const d = disclosureOf(row, hash);
    if (d === null) continue;
    if (d.match === 'possible') {
      stats.possible++;
      if (!filter.includePossible) continue;
    }
    yield d;
  }
}

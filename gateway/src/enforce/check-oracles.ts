// CHECK constraints as oracles (red-team round 21a, R21a-1): an update keeps the stored values of the
// columns it does not assign, and PostgreSQL tests the table's CHECK constraints on the new row. A constraint
// relating a masked column to one the write assigns (`CHECK (died IS NULL OR died >= born)` with `born`
// masked) fails (23514) or not depending on the stored masked value: a binary search over the assigned
// value recovers it. A row-level security policy's WITH CHECK does the same (42501). Such an update counts
// as a read of the masked column and is refused (42501), as an assignment under a key over a masked column
// is (existence-oracles.ts). An INSERT tests new values only.
// A policy's expressions may read other tables too (`WITH CHECK (v NOT IN (SELECT secret FROM vault))`):
// PostgreSQL reads them raw, so any write to the policy's table (an INSERT's new row is checked against
// them, an UPDATE's or DELETE's rows are filtered by them) learns about their stored values: refused when
// one of them has columns masked for the identity (red-team round 21d, R21d-5).

import type { RelationInfo } from './relation-catalog.ts';

/** The refusal's text (existence-oracles.ts OracleRefusal has the same shape). */
export interface CheckRefusal {
  message: string;
  hint: string;
}

/**
 * Why updating stored rows of `rel` (the target, or a partition or child it reaches) would test a CHECK
 * over a masked column it keeps, or null. `assigns`: whether the write may assign a column; `replaces`:
 * whether every row it updates surely gets a new value for it (a plain UPDATE's SET; not MERGE or ON
 * CONFLICT, whose actions differ). A NOT VALID constraint may fail on the stored value alone.
 */
export function checkOracle(rel: RelationInfo, assigns: (c: string) => boolean, replaces: (c: string) => boolean, masked: (c: string) => boolean): CheckRefusal | null {
  for (const check of rel.checks ?? []) {
    const kept = check.columns.find((c) => masked(c) && !replaces(c));
    if (kept === undefined) continue;
    const assigned = check.columns.filter((c) => c !== kept && assigns(c));
    if (assigned.length === 0 && check.validated) continue;
    const why = assigned.length === 0 ? 'is not validated, so it may fail on the stored value alone' : `compares ${assigned.map((c) => `"${c}"`).join(', ')}, which it assigns, with it`;
    return {
      message: `Gatehouse does not run this write: it updates rows of ${rel.qualified}, whose ${check.kind === 'check' ? 'check constraint' : 'row-level security policy'} ${check.name} reads their stored column "${kept}", which the policy masks for you, and ${why}: whether the write fails would tell about the stored value (an oracle)`,
      hint: 'Leave the columns of that constraint or policy out of what the update assigns, assign the masked column in the same update, or ask for a policy under which you read it unmasked.',
    };
  }
  return null;
}

/**
 * Why writing `rel` would run a row-level security policy of it that reads another table with columns
 * masked for the identity (`masked`: whether a table, "schema.name", has any), or null.
 */
export function policyReadOracle(rel: RelationInfo, masked: (table: string) => boolean): CheckRefusal | null {
  for (const policy of rel.checks ?? []) {
    // A function the policy calls may read any table: counted as one that may be masked (R21f-5).
    const table = (policy.reads ?? []).find(masked) ?? (policy.calls ?? []).map((fn) => `the tables function ${fn} reads`).find(masked);
    if (table === undefined) continue;
    return {
      message: `Gatehouse does not run this write: ${rel.qualified} has row-level security policy ${policy.name}, whose expressions read ${table}, which has columns the policy masks for you; PostgreSQL reads them raw, so whether the write fails or which rows it reaches would tell about their stored values (an oracle)`,
      hint: 'Ask the database owners for a row-level security policy that does not read that table, or for a policy under which you read it unmasked.',
    };
  }
  return null;
}

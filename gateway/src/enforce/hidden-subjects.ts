// What the accounting of disclosures shares between its planner (enforce/subject-columns.ts) and the
// relay that strips and hashes the hidden columns: the PHI tables' configuration, the plan of one
// statement, and the name prefix Gatehouse reserves for the columns it adds.

import type { SubjectHasher } from '../audit/subjects.ts';

/** PHI tables ("schema.table") and the column that names each row's subject. */
export type PhiTables = ReadonlyMap<string, string>;

/** audit.phi_tables with the subject key and cap: what a session needs to record subjects. */
export interface Disclosures {
  phi: PhiTables;
  hash: SubjectHasher;
  /** Distinct subject hashes kept per table and statement (audit.subjects_max). */
  cap: number;
}

/** What the relay does with one statement's results for the accounting of disclosures. */
export interface SubjectPlan {
  /** The PHI table of each hidden trailing column, in order (empty: none added). */
  hidden: string[];
  /** Gatehouse added the whole RETURNING: its RowDescription and rows are not the client's at all. */
  returningAdded: boolean;
  /** PHI tables the statement touches whose subjects are not known, with why. */
  unknown: Record<string, string>;
}

/** The name of every hidden column starts with this (`gatehouse_subject_1`, ...); clients may not use it. */
export const HIDDEN_PREFIX = 'gatehouse_subject';

/** The same reason for every table of `tables`. */
export function allUnknown(tables: readonly string[], reason: string): Record<string, string> {
  return Object.fromEntries(tables.map((t) => [t, reason]));
}

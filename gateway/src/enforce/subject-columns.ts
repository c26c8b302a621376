// Accounting of disclosures at the source: for a statement that reads or writes a table marked as
// holding PHI (audit.phi_tables), PostgreSQL is asked to return, with each row, the subject column
// (e.g. patients.id, visits.patient_id) of every PHI relation the row comes from, as hidden trailing
// columns: added to the SELECT list for the PHI tables of the top-level FROM, or as a RETURNING
// Gatehouse adds (or extends) for INSERT, UPDATE and DELETE. The relay (pg/upstream-relay.ts) strips
// them before the client sees anything and hashes them (audit/subjects.ts). Where the statement's
// shape does not allow an exact list (aggregates, set operations, subqueries, COPY, cursors...), the
// table's subjects are recorded as unknown with the reason, never as a wrong list. The new text is
// re-parsed and must equal the client's statement with exactly those columns added; otherwise the
// statement is forwarded unchanged and its subjects are unknown.
//
// This module writes the planned columns into the query string; enforce/subject-statement-plan.ts
// plans each statement, enforce/phi-references.ts finds its PHI tables, and
// enforce/subject-columns-check.ts re-reads the result.

import { parseSync, scanSync, type ScanToken } from 'libpg-query';
import { spliceBytes, type ByteSplice } from '../sql/byte-splice.ts';
import { parsedStatements, statementTexts, type RawStatement } from '../sql/split.ts';
import { searchOrder } from '../sql/table-ref.ts';
import { allUnknown, HIDDEN_PREFIX, type PhiTables, type SubjectPlan } from './hidden-subjects.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import { checkAdded } from './subject-columns-check.ts';
import { planStatement, type PlanContext } from './subject-statement-plan.ts';

export interface SubjectRequest {
  /** The query string about to be forwarded (the client's, or its rewrite for masks). */
  text: string;
  /** Per statement of `text`: the PHI tables it reads or writes (empty: none), and the masked subject columns. */
  touched: readonly (readonly string[])[];
  /** Per statement: "table\0column" of masked columns (a masked subject is not hashed from the masked value). */
  masked: readonly ReadonlySet<string>[];
  phi: PhiTables;
  searchPath: readonly string[];
  relations: RelationCatalog | null;
  routines: RoutineCatalog | null;
}

export interface SubjectRewrite {
  /** The new query string, or null when nothing was added. */
  text: string | null;
  /** Per statement: the new forwarded text (when `text` is not null). */
  statements: string[] | null;
  /** Per statement: its plan, or null when it touches no PHI table. */
  plans: (SubjectPlan | null)[];
}

function plansOf(touched: readonly (readonly string[])[], reason: string): (SubjectPlan | null)[] {
  return touched.map((t) => (t.length === 0 ? null : { hidden: [], returningAdded: false, unknown: allUnknown(t, reason) }));
}

/** Plans the hidden columns of every statement of `req.text` that touches a PHI table. */
export function planSubjects(req: SubjectRequest): SubjectRewrite {
  if (req.touched.every((t) => t.length === 0)) return { text: null, statements: null, plans: req.touched.map(() => null) };
  if (req.relations === null) return { text: null, statements: null, plans: plansOf(req.touched, "Gatehouse had not read the database's tables yet") };
  let stmts: RawStatement[];
  let tokens: readonly ScanToken[];
  try {
    stmts = parsedStatements(req.text);
    tokens = scanSync(req.text).tokens;
  } catch {
    return { text: null, statements: null, plans: plansOf(req.touched, 'the statement could not be parsed again') };
  }
  if (stmts.length !== req.touched.length) return { text: null, statements: null, plans: plansOf(req.touched, 'the statements could not be matched to their decisions') };
  const ctx: PlanContext = { relations: req.relations, routines: req.routines, order: searchOrder(req.searchPath), phi: req.phi, tokens };
  const planned = stmts.map((s, i) => {
    const touched = req.touched[i]!;
    if (touched.length === 0) return null;
    return planStatement(s, touched, req.masked[i] ?? new Set(), ctx);
  });
  const splices: ByteSplice[] = [];
  const insert = (at: number, text: string): void => void splices.push({ start: at, end: at, text });
  let counter = 0;
  const plans: (SubjectPlan | null)[] = planned.map((p) => {
    if (p === null) return null;
    switch (p.kind) {
      case 'unknown':
        return { hidden: [], returningAdded: false, unknown: p.unknown };
      case 'select': {
        const cols = p.refs.map((r) => `${r.expression} AS ${HIDDEN_PREFIX}_${++counter}`);
        insert(p.insertAt, `, ${cols.join(', ')}`);
        return { hidden: p.refs.map((r) => r.table), returningAdded: false, unknown: p.unknown };
      }
      case 'returning': {
        const col = `${p.ref.expression} AS ${HIDDEN_PREFIX}_${++counter}`;
        insert(p.insertAt, p.extend ? `, ${col}` : ` RETURNING ${col}`);
        return { hidden: [p.ref.table], returningAdded: !p.extend, unknown: p.unknown };
      }
      default: {
        const never: never = p;
        throw new Error(`unknown subject plan ${JSON.stringify(never)}`);
      }
    }
  });
  if (splices.length === 0) return { text: null, statements: null, plans };
  const text = spliceBytes(req.text, splices);
  const problem = text === null ? 'two insertions overlap' : checkAdded(stmts, text, plans);
  if (text === null || problem !== null) return { text: null, statements: null, plans: plansOf(req.touched, `Gatehouse could not add the subject columns safely (${problem})`) };
  const forwarded = statementTexts(text, (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? []);
  return { text, statements: forwarded, plans };
}

// Accounting of disclosures in the results: the hidden subject columns Gatehouse added to a statement
// (enforce/subject-columns.ts) are hashed into the statement's collector and taken off each row
// before the client gets it, and the statement's outcome record says whose rows it returned or wrote
// (audit/subjects.ts).

import { SubjectCollector, type SubjectsRecord } from '../audit/subjects.ts';
import type { Disclosures, SubjectPlan } from '../enforce/hidden-subjects.ts';
import { dataRow, decodeDataRow } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import type { ResultContext } from './pending.ts';

/** The session's audit.phi_tables settings, asked only when a statement has subject columns. */
export type DisclosuresOf = () => Disclosures | undefined;

/** The hidden subject columns of the statement whose results are arriving, or null when it has none. */
export function subjectsOf(ctx: ResultContext): SubjectPlan | null {
  const plan = ctx.statements[ctx.index]?.subjects;
  return plan !== undefined && plan !== null && plan.hidden.length > 0 ? plan : null;
}

/**
 * Hashes a row's hidden subject columns into the statement's collector (audit/subjects.ts) and
 * returns the row as the client gets it: without them, or null when the whole row is Gatehouse's
 * (a RETURNING it added).
 */
export function takeSubjects(frame: Frame, ctx: ResultContext, subjects: SubjectPlan, disclosures: DisclosuresOf): Frame | null {
  const values = decodeDataRow(frame.body);
  const n = subjects.hidden.length;
  if (values.length < n) throw new Error('a row without its subject columns');
  const collector = (ctx.subjectRows ??= newCollector(disclosures()));
  if (collector !== null) for (let i = 0; i < n; i++) collector.add(subjects.hidden[i]!, values[values.length - n + i]!);
  if (subjects.returningAdded) return null;
  const raw = dataRow(values.slice(0, values.length - n));
  return { type: frame.type, raw, body: raw.subarray(5) };
}

function newCollector(d: Disclosures | undefined): SubjectCollector | null {
  return d === undefined ? null : new SubjectCollector(d.hash, d.cap);
}

/** The `subjects` of the current statement's outcome record: its rows' subjects, and the tables it could not attribute. */
export function subjectsRecord(ctx: ResultContext, disclosures: DisclosuresOf): SubjectsRecord | null {
  const plan = ctx.statements[ctx.index]?.subjects;
  if (plan === undefined || plan === null) return null;
  const collector = ctx.subjectRows ?? newCollector(disclosures());
  if (collector === null) return null;
  for (const table of plan.hidden) collector.expect(table);
  for (const [table, reason] of Object.entries(plan.unknown)) collector.markUnknown(table, reason);
  return collector.record();
}

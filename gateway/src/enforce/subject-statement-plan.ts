// Plans the hidden subject columns of one statement that touches a PHI table: where in its text
// they go (the end of a SELECT's select list, or a RETURNING added or extended for a write) and
// which PHI tables' subjects stay unknown, with why. Nothing here changes the text.

import type { ScanToken } from 'libpg-query';
import { aliasName, asNode, isObject, list, str, type AstBody } from '../sql/ast.ts';
import type { RawStatement } from '../sql/split.ts';
import { callsAggregate, callsWindowOverValues } from './aggregate-calls.ts';
import { allUnknown, HIDDEN_PREFIX } from './hidden-subjects.ts';
import { cteNamesOf, phiOf, phiOfDerived, phiReads, refName, subjectExpression, topLevelItems, type PhiContext, type TopLevelItem } from './phi-references.ts';

/** A hidden column: the PHI table it names the subjects of, and the expression that reads them. */
export interface HiddenRef {
  table: string;
  expression: string;
}

export type StatementPlan =
  | { kind: 'select'; insertAt: number; refs: HiddenRef[]; unknown: Record<string, string> }
  | { kind: 'returning'; insertAt: number; ref: HiddenRef; extend: boolean; unknown: Record<string, string> }
  | { kind: 'unknown'; unknown: Record<string, string> };

/** PhiContext with the scanner's tokens of the whole query string. */
export interface PlanContext extends PhiContext {
  tokens: readonly ScanToken[];
}

const COMMENTS = new Set(['C_COMMENT', 'SQL_COMMENT']);

const READ_ELSEWHERE = 'also read elsewhere in the statement (a subquery, WITH query, LATERAL or derived table, or a view), whose rows are not attributed to subjects';

/** The plan of statement `s`, which reads or writes the PHI tables `touched`. */
export function planStatement(s: RawStatement, touched: readonly string[], masked: ReadonlySet<string>, ctx: PlanContext): StatementPlan {
  const start = s.stmt_location ?? 0;
  const end = s.stmt_len === undefined || s.stmt_len === 0 ? Number.MAX_SAFE_INTEGER : start + s.stmt_len;
  const own = ctx.tokens.filter((t) => t.start >= start && t.end <= end && !COMMENTS.has(t.tokenName));
  if (own.some((t) => t.text.toLowerCase().replaceAll('"', '').startsWith(HIDDEN_PREFIX))) {
    return { kind: 'unknown', unknown: allUnknown(touched, `the statement uses a name starting with ${HIDDEN_PREFIX}, which Gatehouse reserves for its subject columns`) };
  }
  const node = asNode(s.stmt);
  if (node === null) return { kind: 'unknown', unknown: allUnknown(touched, 'the statement could not be read') };
  switch (node.type) {
    case 'SelectStmt':
      return planSelect(node.body, own, touched, masked, ctx, phiReads(node.body, ctx));
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
      return planWrite(node.body, own, touched, ctx, phiReads(node.body, ctx));
    case 'CopyStmt':
      return { kind: 'unknown', unknown: allUnknown(touched, 'COPY: its rows are not attributed to subjects') };
    case 'DeclareCursorStmt':
      return { kind: 'unknown', unknown: allUnknown(touched, 'a cursor: its rows are fetched by later statements, which are not attributed to subjects') };
    case 'ExplainStmt':
      return { kind: 'unknown', unknown: allUnknown(touched, 'EXPLAIN: rows (with ANALYZE) are not attributed to subjects') };
    default:
      return { kind: 'unknown', unknown: allUnknown(touched, `${node.type.replace(/Stmt$/, '')} statements are not attributed to subjects`) };
  }
}

function planSelect(body: AstBody, own: readonly ScanToken[], touched: readonly string[], masked: ReadonlySet<string>, ctx: PlanContext, reads: ReadonlyMap<string, number>): StatementPlan {
  const whole = (reason: string): StatementPlan => ({ kind: 'unknown', unknown: allUnknown(touched, reason) });
  const op = str(body, 'op');
  if (op !== null && op !== 'SETOP_NONE') return whole('a set operation (UNION, INTERSECT, EXCEPT): its rows are not attributed to subjects');
  if (isObject(body['intoClause'])) return whole('SELECT INTO: its rows are not attributed to subjects');
  if (list(body, 'distinctClause').length > 0) return whole('SELECT DISTINCT: its rows are not attributed to subjects');
  if (list(body, 'groupClause').length > 0 || isObject(body['havingClause'])) return whole('grouped rows (GROUP BY, HAVING) are not attributed to subjects');
  if (callsAggregate(body['targetList'], ctx.routines) || callsAggregate(body['sortClause'], ctx.routines)) return whole('an aggregate (or a function that may be one): its rows are not attributed to subjects');
  if (callsWindowOverValues(body['targetList']) || callsWindowOverValues(body['sortClause'])) return whole('a window function over values: a row shows values of other rows, which are not attributed to subjects');
  const targets = list(body, 'targetList');
  if (sortsBeyondSelectList(body, targets)) return whole('ORDER BY names a position past its select list, where the hidden columns would be');
  const first = asNode(targets[0]);
  const location = first?.body['location'];
  if (typeof location !== 'number' || location < 0) return whole('the statement has no select list Gatehouse can extend');
  const items: TopLevelItem[] = [];
  if (!topLevelItems(list(body, 'fromClause'), items)) return whole('an aliased join hides the names of its tables');
  const cteNames = cteNamesOf(body);
  const refs: HiddenRef[] = [];
  const unknown: Record<string, string> = {};
  for (const item of items) {
    if (item.type === 'RangeSubselect') {
      const derived = phiOfDerived(item.body, ctx, cteNames);
      const alias = aliasName(item.body);
      if (derived !== null && alias !== null) refs.push({ table: derived.table, expression: subjectExpression(alias, derived.name) });
      continue;
    }
    const rv = item.body;
    const phi = phiOf(rv, ctx, cteNames);
    if (phi === null) continue;
    if (masked.has(`${phi.table}\u0000${phi.column}`)) {
      unknown[phi.table] = `its subject column ${phi.column} is masked for this statement`;
      continue;
    }
    refs.push({ table: phi.table, expression: subjectExpression(refName(rv), phi.column) });
  }
  for (const table of new Set(refs.map((r) => r.table))) {
    if ((reads.get(table) ?? 0) <= refs.filter((r) => r.table === table).length) continue;
    unknown[table] = READ_ELSEWHERE;
    for (let i = refs.length - 1; i >= 0; i--) if (refs[i]!.table === table) refs.splice(i, 1);
  }
  for (const t of touched) {
    if (refs.some((r) => r.table === t) || unknown[t] !== undefined) continue;
    unknown[t] = masked.has(`${t}\u0000${ctx.phi.get(t)}`)
      ? `its subject column ${ctx.phi.get(t)} is masked for this statement`
      : 'read other than as a table of the top-level FROM (a subquery, WITH query, view or function)';
  }
  if (refs.length === 0) return { kind: 'unknown', unknown };
  const insertAt = endOfSelectList(own, location);
  if (insertAt === null) return whole('the end of the select list could not be found');
  return { kind: 'select', insertAt, refs, unknown };
}

/**
 * Whether ORDER BY names a column by a position past the client's select list: with hidden columns
 * appended, PostgreSQL would sort by a subject column instead of refusing the statement (42P10) as
 * it does for the client's own text (red-team R9b-3). A star counts as one column (it expands to at
 * least one, except over a table without columns).
 */
function sortsBeyondSelectList(body: AstBody, targets: readonly unknown[]): boolean {
  return list(body, 'sortClause').some((item) => {
    const c = asNode(asNode(item)?.body['node']);
    if (c?.type !== 'A_Const' || !isObject(c.body['ival'])) return false;
    const position = (c.body['ival'] as AstBody)['ival'];
    return typeof position === 'number' && position > targets.length;
  });
}

/** The byte offset right after the select list's last token: before the top-level FROM. */
function endOfSelectList(own: readonly ScanToken[], firstTarget: number): number | null {
  let depth = 0;
  let i = own.findIndex((t) => t.start === firstTarget);
  if (i < 0) return null;
  for (; i < own.length; i++) {
    const t = own[i]!;
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && t.text.toUpperCase() === 'FROM' && own[i - 1]?.text.toUpperCase() !== 'DISTINCT') return i > 0 ? own[i - 1]!.end : null;
  }
  return null;
}

function planWrite(body: AstBody, own: readonly ScanToken[], touched: readonly string[], ctx: PlanContext, reads: ReadonlyMap<string, number>): StatementPlan {
  const rv = isObject(body['relation']) ? (body['relation'] as AstBody) : null;
  const phi = rv === null ? null : phiOf(rv, ctx, new Set());
  const unknown: Record<string, string> = {};
  for (const t of touched) if (t !== phi?.table) unknown[t] = 'read or written other than as the target of the write';
  if (phi === null || rv === null) return { kind: 'unknown', unknown };
  if ((reads.get(phi.table) ?? 0) > 1) return { kind: 'unknown', unknown: { ...unknown, [phi.table]: READ_ELSEWHERE } };
  // RETURNING shows the new row: an UPDATE (or ON CONFLICT DO UPDATE) that sets the subject column
  // would list the new subject, not the one whose row was changed (red-team R9b-4).
  const conflict = isObject(body['onConflictClause']) ? (body['onConflictClause'] as AstBody) : null;
  const sets = [...list(body, 'targetList'), ...(conflict === null ? [] : list(conflict, 'targetList'))];
  const setsSubject = sets.some((t) => {
    const r = asNode(t);
    return r?.type === 'ResTarget' && str(r.body, 'name') === phi.column;
  });
  if (setsSubject) {
    return { kind: 'unknown', unknown: { ...unknown, [phi.table]: `the write sets its subject column ${phi.column}: RETURNING shows the new subject, not the one whose row changed` } };
  }
  const last = own[own.length - 1];
  if (last === undefined) return { kind: 'unknown', unknown: allUnknown(touched, 'the statement could not be read') };
  const insertAt = last.text === ';' ? (own[own.length - 2]?.end ?? null) : last.end;
  if (insertAt === null) return { kind: 'unknown', unknown: allUnknown(touched, 'the end of the statement could not be found') };
  const returning = isObject(body['returningClause']) ? (body['returningClause'] as AstBody) : null;
  const extend = returning !== null && list(returning, 'exprs').length > 0;
  return { kind: 'returning', insertAt, ref: { table: phi.table, expression: subjectExpression(refName(rv), phi.column) }, extend, unknown };
}

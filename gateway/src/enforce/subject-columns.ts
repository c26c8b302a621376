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

import { Buffer } from 'node:buffer';
import { parseSync, scanSync, type ScanToken } from 'libpg-query';
import { asNode, isObject, list, str, type AstBody } from '../sql/ast.ts';
import { searchOrder } from '../sql/table-ref.ts';
import { statementTexts, type RawStatement } from '../sql/split.ts';
import { canonical } from './mask-rewrite-check.ts';
import { MASK_SCHEMA, quoteIdent } from './mask-expressions.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
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

export const HIDDEN_PREFIX = 'gatehouse_subject';

/** PostgreSQL's built-in aggregates: a query calling one outside a subquery returns groups, not rows. */
const AGGREGATES = new Set(
  ('array_agg any_value avg bit_and bit_or bit_xor bool_and bool_or corr count covar_pop covar_samp cume_dist dense_rank every ' +
    'json_agg json_agg_strict json_object_agg json_object_agg_strict json_object_agg_unique json_object_agg_unique_strict jsonb_agg ' +
    'jsonb_agg_strict jsonb_object_agg jsonb_object_agg_strict jsonb_object_agg_unique jsonb_object_agg_unique_strict max min mode ' +
    'percent_rank percentile_cont percentile_disc range_agg range_intersect_agg rank regr_avgx regr_avgy regr_count regr_intercept ' +
    'regr_r2 regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp string_agg sum var_pop var_samp variance xmlagg').split(' '),
);

interface RawStmt extends RawStatement {
  stmt?: unknown;
}

interface HiddenRef {
  table: string;
  expression: string;
}

type StatementPlan =
  | { kind: 'select'; insertAt: number; refs: HiddenRef[]; unknown: Record<string, string> }
  | { kind: 'returning'; insertAt: number; ref: HiddenRef; extend: boolean; unknown: Record<string, string> }
  | { kind: 'unknown'; unknown: Record<string, string> };

const COMMENTS = new Set(['C_COMMENT', 'SQL_COMMENT']);

function allUnknown(tables: readonly string[], reason: string): Record<string, string> {
  return Object.fromEntries(tables.map((t) => [t, reason]));
}

function plansOf(touched: readonly (readonly string[])[], reason: string): (SubjectPlan | null)[] {
  return touched.map((t) => (t.length === 0 ? null : { hidden: [], returningAdded: false, unknown: allUnknown(t, reason) }));
}

/** Plans the hidden columns of every statement of `req.text` that touches a PHI table. */
export function planSubjects(req: SubjectRequest): SubjectRewrite {
  if (req.touched.every((t) => t.length === 0)) return { text: null, statements: null, plans: req.touched.map(() => null) };
  if (req.relations === null) return { text: null, statements: null, plans: plansOf(req.touched, "Gatehouse had not read the database's tables yet") };
  let stmts: RawStmt[];
  let tokens: readonly ScanToken[];
  try {
    stmts = ((parseSync(req.text) as { stmts?: RawStmt[] }).stmts ?? []).filter((s) => s.stmt !== undefined);
    tokens = scanSync(req.text).tokens;
  } catch {
    return { text: null, statements: null, plans: plansOf(req.touched, 'the statement could not be parsed again') };
  }
  if (stmts.length !== req.touched.length) return { text: null, statements: null, plans: plansOf(req.touched, 'the statements could not be matched to their decisions') };
  const ctx = { relations: req.relations, routines: req.routines, order: searchOrder(req.searchPath), phi: req.phi, tokens };
  const planned = stmts.map((s, i) => {
    const touched = req.touched[i]!;
    if (touched.length === 0) return null;
    return planStatement(s, touched, req.masked[i] ?? new Set(), ctx);
  });
  const splices: { at: number; text: string }[] = [];
  let counter = 0;
  const plans: (SubjectPlan | null)[] = planned.map((p) => {
    if (p === null) return null;
    switch (p.kind) {
      case 'unknown':
        return { hidden: [], returningAdded: false, unknown: p.unknown };
      case 'select': {
        const cols = p.refs.map((r) => `${r.expression} AS ${HIDDEN_PREFIX}_${++counter}`);
        splices.push({ at: p.insertAt, text: `, ${cols.join(', ')}` });
        return { hidden: p.refs.map((r) => r.table), returningAdded: false, unknown: p.unknown };
      }
      case 'returning': {
        const col = `${p.ref.expression} AS ${HIDDEN_PREFIX}_${++counter}`;
        splices.push({ at: p.insertAt, text: p.extend ? `, ${col}` : ` RETURNING ${col}` });
        return { hidden: [p.ref.table], returningAdded: !p.extend, unknown: p.unknown };
      }
      default: {
        const never: never = p;
        throw new Error(`unknown subject plan ${JSON.stringify(never)}`);
      }
    }
  });
  if (splices.length === 0) return { text: null, statements: null, plans };
  const bytes = Buffer.from(req.text, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (const sp of splices) {
    parts.push(bytes.subarray(at, sp.at), Buffer.from(sp.text, 'utf8'));
    at = sp.at;
  }
  parts.push(bytes.subarray(at));
  const text = Buffer.concat(parts).toString('utf8');
  const problem = checkAdded(stmts, text, plans);
  if (problem !== null) return { text: null, statements: null, plans: plansOf(req.touched, `Gatehouse could not add the subject columns safely (${problem})`) };
  const forwarded = statementTexts(text, (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? []);
  return { text, statements: forwarded, plans };
}

interface PlanContext {
  relations: RelationCatalog;
  routines: RoutineCatalog | null;
  order: readonly string[];
  phi: PhiTables;
  tokens: readonly ScanToken[];
}

function planStatement(s: RawStmt, touched: readonly string[], masked: ReadonlySet<string>, ctx: PlanContext): StatementPlan {
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

/** The relation a RangeVar names, if it is a PHI table: its qualified name and subject column. */
function phiOf(rv: AstBody, ctx: PlanContext, cteNames: ReadonlySet<string>): { table: string; column: string } | null {
  const relname = str(rv, 'relname');
  if (relname === null) return null;
  const schema = str(rv, 'schemaname');
  if (schema === null && cteNames.has(relname)) return null;
  const rel = schema !== null ? ctx.relations.get(`${schema}.${relname}`) : ctx.relations.resolve(relname, ctx.order);
  if (rel === null) return null;
  const table = [rel.qualified, ...rel.ancestors].find((t) => ctx.phi.has(t));
  if (table === undefined) return null;
  const column = ctx.phi.get(table)!;
  if (!rel.columns.some((c) => c.name === column)) return null;
  return { table, column };
}

/**
 * How many times each PHI table is named anywhere in a statement (subqueries, WITH queries, LATERAL
 * and derived tables included; a view counts for each PHI table it reads). A table named more often
 * than it has hidden columns has rows Gatehouse does not see, so its list would be incomplete
 * (red-team R9b-1). A WITH query named like a table counts too: an overcount only makes it unknown.
 */
function phiReads(value: unknown, ctx: PlanContext, out: Map<string, number> = new Map()): Map<string, number> {
  if (Array.isArray(value)) {
    for (const v of value) phiReads(v, ctx, out);
    return out;
  }
  if (!isObject(value)) return out;
  const node = asNode(value);
  // A RangeVar is wrapped in FROM lists, bare as the target (`relation`) of INSERT, UPDATE, DELETE.
  const rv = node?.type === 'RangeVar' ? node.body : node === null && typeof (value as AstBody)['relname'] === 'string' ? (value as AstBody) : null;
  if (rv !== null) {
    const relname = str(rv, 'relname');
    const schema = str(rv, 'schemaname');
    const rel = relname === null ? null : schema !== null ? ctx.relations.get(`${schema}.${relname}`) : ctx.relations.resolve(relname, ctx.order);
    if (rel !== null) {
      const named = new Set<string>([rel.qualified, ...rel.ancestors, ...rel.reads]);
      for (const read of rel.reads) for (const a of ctx.relations.get(read)?.ancestors ?? []) named.add(a);
      for (const t of named) if (ctx.phi.has(t)) out.set(t, (out.get(t) ?? 0) + 1);
    }
    return out;
  }
  for (const v of Object.values(value)) phiReads(v, ctx, out);
  return out;
}

const READ_ELSEWHERE = 'also read elsewhere in the statement (a subquery, WITH query, LATERAL or derived table, or a view), whose rows are not attributed to subjects';

function refName(rv: AstBody): string {
  const alias = isObject(rv['alias']) ? str(rv['alias'] as AstBody, 'aliasname') : null;
  return alias ?? str(rv, 'relname')!;
}

function expression(rv: AstBody, column: string): string {
  return `CAST(${quoteIdent(refName(rv))}.${quoteIdent(column)} AS pg_catalog.text)`;
}

function cteNamesOf(body: AstBody): Set<string> {
  const withClause = isObject(body['withClause']) ? (body['withClause'] as AstBody) : null;
  const names = new Set<string>();
  for (const c of withClause === null ? [] : list(withClause, 'ctes')) {
    const name = asNode(c)?.body['ctename'];
    if (typeof name === 'string') names.add(name);
  }
  return names;
}

/**
 * Tables and derived tables of the top-level FROM (through unaliased joins); false when a join is
 * aliased (its arms' names are hidden).
 */
function topLevelItems(items: readonly unknown[], out: { type: 'RangeVar' | 'RangeSubselect'; body: AstBody }[]): boolean {
  for (const item of items) {
    const node = asNode(item);
    if (node === null) continue;
    if (node.type === 'RangeVar' || node.type === 'RangeSubselect') out.push({ type: node.type, body: node.body });
    else if (node.type === 'JoinExpr') {
      if (isObject(node.body['alias'])) return false;
      if (!topLevelItems([node.body['larg'], node.body['rarg']], out)) return false;
    }
  }
  return true;
}

/** The name a select list item gives its column: its AS name, or a column reference's last name; null otherwise. */
function outputName(target: unknown): string | null {
  const t = asNode(target);
  if (t?.type !== 'ResTarget') return null;
  const name = str(t.body, 'name');
  if (name !== null) return name;
  const ref = asNode(t.body['val']);
  if (ref?.type !== 'ColumnRef') return null;
  const fields = list(ref.body, 'fields');
  const last = asNode(fields[fields.length - 1]);
  return last?.type === 'String' ? (str(last.body, 'sval') ?? null) : null;
}

/**
 * A derived table that passes a PHI table's subject column through unchanged, row for row (masking
 * at the source writes such a table for every masked relation: `(SELECT ..., gatehouse_masked."id"
 * FROM ONLY clinical.patients AS gatehouse_masked) AS p`): the PHI table and the name of the
 * subject column in the derived table. Null for anything else (a computed or masked subject,
 * grouping, a set operation, several tables, a column list on the alias, a star).
 */
function phiOfDerived(rs: AstBody, ctx: PlanContext, cteNames: ReadonlySet<string>): { table: string; name: string } | null {
  const alias = isObject(rs['alias']) ? (rs['alias'] as AstBody) : null;
  if (alias === null || list(alias, 'colnames').length > 0) return null;
  const sub = asNode(rs['subquery']);
  if (sub?.type !== 'SelectStmt') return null;
  const b = sub.body;
  const op = str(b, 'op');
  if ((op !== null && op !== 'SETOP_NONE') || isObject(b['withClause']) || isObject(b['intoClause']) || list(b, 'distinctClause').length > 0) return null;
  if (list(b, 'groupClause').length > 0 || isObject(b['havingClause']) || callsAggregate(b['targetList'], ctx) || callsAggregate(b['sortClause'], ctx)) return null;
  const from = list(b, 'fromClause');
  const inner = asNode(from[0]);
  if (from.length !== 1 || inner?.type !== 'RangeVar') return null;
  const phi = phiOf(inner.body, ctx, cteNames);
  if (phi === null) return null;
  const innerName = refName(inner.body);
  const targets = list(b, 'targetList');
  const names = targets.map(outputName);
  if (names.some((n) => n === null)) return null; // a star or an unnamed expression: output names unknown
  for (let i = 0; i < targets.length; i++) {
    const val = asNode(asNode(targets[i])?.body['val']);
    if (val?.type !== 'ColumnRef') continue;
    const fields = list(val.body, 'fields').map((f) => asNode(f)).map((f) => (f?.type === 'String' ? str(f.body, 'sval') : null));
    const plain = (fields.length === 1 && fields[0] === phi.column) || (fields.length === 2 && fields[0] === innerName && fields[1] === phi.column);
    const name = names[i]!;
    if (plain && names.filter((n) => n === name).length === 1) return { table: phi.table, name };
  }
  return null;
}

/** Whether an expression calls an aggregate (or a function that may be one) outside any subquery. */
function callsAggregate(value: unknown, ctx: PlanContext): boolean {
  if (Array.isArray(value)) return value.some((v) => callsAggregate(v, ctx));
  if (!isObject(value)) return false;
  const node = asNode(value);
  if (node !== null) {
    if (node.type === 'SubLink') return callsAggregate(node.body['testexpr'], ctx);
    if (node.type === 'JsonArrayAgg' || node.type === 'JsonObjectAgg' || node.type === 'GroupingFunc') return true;
    if (node.type === 'FuncCall' && !isObject(node.body['over'])) {
      const b = node.body;
      if (b['agg_star'] === true || b['agg_distinct'] === true || list(b, 'agg_order').length > 0 || isObject(b['agg_filter']) || b['agg_within_group'] === true) return true;
      const names = list(b, 'funcname').map((n) => asNode(n)?.body['sval']).filter((n): n is string => typeof n === 'string');
      const name = names[names.length - 1] ?? '';
      const schema = names.length > 1 ? names[names.length - 2]! : null;
      if (AGGREGATES.has(name)) return true;
      // The keyed masking functions masking at the source calls (clients cannot name them: enforce/reserved-names.ts).
      if (schema === MASK_SCHEMA) return Object.values(b).some((v) => callsAggregate(v, ctx));
      if (schema !== null && schema !== 'pg_catalog') return true;
      if (ctx.routines === null || ctx.routines.verdict('function', { schema, name }) !== 'harmless') return true;
    }
  }
  return Object.values(value).some((v) => callsAggregate(v, ctx));
}

function planSelect(body: AstBody, own: readonly ScanToken[], touched: readonly string[], masked: ReadonlySet<string>, ctx: PlanContext, reads: ReadonlyMap<string, number>): StatementPlan {
  const whole = (reason: string): StatementPlan => ({ kind: 'unknown', unknown: allUnknown(touched, reason) });
  const op = str(body, 'op');
  if (op !== null && op !== 'SETOP_NONE') return whole('a set operation (UNION, INTERSECT, EXCEPT): its rows are not attributed to subjects');
  if (isObject(body['intoClause'])) return whole('SELECT INTO: its rows are not attributed to subjects');
  if (list(body, 'distinctClause').length > 0) return whole('SELECT DISTINCT: its rows are not attributed to subjects');
  if (list(body, 'groupClause').length > 0 || isObject(body['havingClause'])) return whole('grouped rows (GROUP BY, HAVING) are not attributed to subjects');
  if (callsAggregate(body['targetList'], ctx) || callsAggregate(body['sortClause'], ctx)) return whole('an aggregate (or a function that may be one): its rows are not attributed to subjects');
  const targets = list(body, 'targetList');
  if (sortsBeyondSelectList(body, targets)) return whole('ORDER BY names a position past its select list, where the hidden columns would be');
  const first = asNode(targets[0]);
  const location = first?.body['location'];
  if (typeof location !== 'number' || location < 0) return whole('the statement has no select list Gatehouse can extend');
  const items: { type: 'RangeVar' | 'RangeSubselect'; body: AstBody }[] = [];
  if (!topLevelItems(list(body, 'fromClause'), items)) return whole('an aliased join hides the names of its tables');
  const cteNames = cteNamesOf(body);
  const refs: HiddenRef[] = [];
  const unknown: Record<string, string> = {};
  for (const item of items) {
    if (item.type === 'RangeSubselect') {
      const derived = phiOfDerived(item.body, ctx, cteNames);
      const aliasName = str(item.body['alias'] as AstBody, 'aliasname');
      if (derived !== null && aliasName !== null) refs.push({ table: derived.table, expression: `CAST(${quoteIdent(aliasName)}.${quoteIdent(derived.name)} AS pg_catalog.text)` });
      continue;
    }
    const rv = item.body;
    const phi = phiOf(rv, ctx, cteNames);
    if (phi === null) continue;
    if (masked.has(`${phi.table}\u0000${phi.column}`)) {
      unknown[phi.table] = `its subject column ${phi.column} is masked for this statement`;
      continue;
    }
    refs.push({ table: phi.table, expression: expression(rv, phi.column) });
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
  return { kind: 'returning', insertAt, ref: { table: phi.table, expression: expression(rv, phi.column) }, extend, unknown };
}

/**
 * Null when `text` parses to the original statements with exactly the planned columns added at the
 * end of their select list or RETURNING; otherwise what differs.
 */
function checkAdded(original: readonly RawStmt[], text: string, plans: readonly (SubjectPlan | null)[]): string | null {
  let parsed: RawStmt[];
  try {
    parsed = ((parseSync(text) as { stmts?: RawStmt[] }).stmts ?? []).filter((s) => s.stmt !== undefined);
  } catch {
    return 'the new text does not parse';
  }
  if (parsed.length !== original.length) return 'the new text has a different number of statements';
  for (let i = 0; i < original.length; i++) {
    const added = plans[i]?.hidden.length ?? 0;
    const after = structuredClone(parsed[i]!.stmt) as Record<string, Record<string, unknown>>;
    if (added > 0) {
      const node = asNode(after);
      if (node === null) return `statement ${i + 1} lost its added columns`;
      const body = node.body as Record<string, unknown>;
      const select = node.type === 'SelectStmt';
      const holder = select ? body : (body['returningClause'] as Record<string, unknown> | undefined);
      const key = select ? 'targetList' : 'exprs';
      const items = holder?.[key];
      if (!Array.isArray(items) || items.length < added) return `statement ${i + 1} lost its added columns`;
      const extra = items.splice(items.length - added, added);
      for (const e of extra) {
        const name = asNode(e)?.body['name'];
        if (typeof name !== 'string' || !name.startsWith(HIDDEN_PREFIX)) return `statement ${i + 1} has an unexpected added column`;
      }
      if (!select && items.length === 0) delete body['returningClause'];
    }
    if (canonical(after) !== canonical(original[i]!.stmt)) return `statement ${i + 1} does not read as intended`;
  }
  return null;
}

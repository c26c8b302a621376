// Where a statement names PHI tables (audit.phi_tables), for the accounting of disclosures: the PHI
// table and subject column behind a FROM item or write target, a derived table that passes a
// subject column through, and how often each PHI table is named anywhere in the statement.

import { aliasName, asNode, isObject, list, str, type AstBody } from '../sql/ast.ts';
import { callsAggregate, callsWindowOverValues } from './aggregate-calls.ts';
import type { PhiTables } from './hidden-subjects.ts';
import { quoteIdent } from './mask-expressions.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';

/** The catalog and configuration one statement's PHI references are read against. */
export interface PhiContext {
  relations: RelationCatalog;
  routines: RoutineCatalog | null;
  /** The search path's schemas in lookup order (sql/table-ref.ts searchOrder). */
  order: readonly string[];
  phi: PhiTables;
}

/** A FROM item of the top-level query that may hold a PHI table's rows. */
export interface TopLevelItem {
  type: 'RangeVar' | 'RangeSubselect';
  body: AstBody;
}

/** The relation a RangeVar names (qualified, or found along the search path), or null. */
function relationOf(rv: AstBody, ctx: PhiContext): RelationInfo | null {
  const relname = str(rv, 'relname');
  if (relname === null) return null;
  const schema = str(rv, 'schemaname');
  return schema !== null ? ctx.relations.get(`${schema}.${relname}`) : ctx.relations.resolve(relname, ctx.order);
}

/** The relation a RangeVar names, if it is a PHI table: its qualified name and subject column. */
export function phiOf(rv: AstBody, ctx: PhiContext, cteNames: ReadonlySet<string>): { table: string; column: string } | null {
  const relname = str(rv, 'relname');
  if (relname === null) return null;
  if (str(rv, 'schemaname') === null && cteNames.has(relname)) return null;
  const rel = relationOf(rv, ctx);
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
export function phiReads(value: unknown, ctx: PhiContext, out: Map<string, number> = new Map()): Map<string, number> {
  if (Array.isArray(value)) {
    for (const v of value) phiReads(v, ctx, out);
    return out;
  }
  if (!isObject(value)) return out;
  const node = asNode(value);
  // A RangeVar is wrapped in FROM lists, bare as the target (`relation`) of INSERT, UPDATE, DELETE.
  const rv = node?.type === 'RangeVar' ? node.body : node === null && typeof (value as AstBody)['relname'] === 'string' ? (value as AstBody) : null;
  if (rv !== null) {
    const rel = relationOf(rv, ctx);
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

/** The name a RangeVar's rows go by in its query: its alias, or the relation's name. */
export function refName(rv: AstBody): string {
  return aliasName(rv) ?? str(rv, 'relname')!;
}

/** The hidden column's expression: `name.column` as text (subjects are hashed from their text). */
export function subjectExpression(name: string, column: string): string {
  return `CAST(${quoteIdent(name)}.${quoteIdent(column)} AS pg_catalog.text)`;
}

/** The names of a query's WITH queries (a FROM item with one of these names is not a table). */
export function cteNamesOf(body: AstBody): Set<string> {
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
export function topLevelItems(items: readonly unknown[], out: TopLevelItem[]): boolean {
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

/** The names of a ColumnRef's fields (null for a star). */
function fieldNames(ref: AstBody): (string | null)[] {
  return list(ref, 'fields').map((f) => {
    const n = asNode(f);
    return n?.type === 'String' ? str(n.body, 'sval') : null;
  });
}

/** The name a select list item gives its column: its AS name, or a column reference's last name; null otherwise. */
function outputName(target: unknown): string | null {
  const t = asNode(target);
  if (t?.type !== 'ResTarget') return null;
  const name = str(t.body, 'name');
  if (name !== null) return name;
  const ref = asNode(t.body['val']);
  if (ref?.type !== 'ColumnRef') return null;
  return fieldNames(ref.body).at(-1) ?? null;
}

/**
 * A derived table that passes a PHI table's subject column through unchanged, row for row (masking
 * at the source writes such a table for every masked relation: `(SELECT ..., gatehouse_masked."id"
 * FROM ONLY clinical.patients AS gatehouse_masked) AS p`): the PHI table and the name of the
 * subject column in the derived table. Null for anything else (a computed or masked subject,
 * grouping, a set operation, several tables, a column list on the alias, a star).
 */
export function phiOfDerived(rs: AstBody, ctx: PhiContext, cteNames: ReadonlySet<string>): { table: string; name: string } | null {
  const alias = isObject(rs['alias']) ? (rs['alias'] as AstBody) : null;
  if (alias === null || list(alias, 'colnames').length > 0) return null;
  const sub = asNode(rs['subquery']);
  if (sub?.type !== 'SelectStmt') return null;
  const b = sub.body;
  const op = str(b, 'op');
  if ((op !== null && op !== 'SETOP_NONE') || isObject(b['withClause']) || isObject(b['intoClause']) || list(b, 'distinctClause').length > 0) return null;
  if (list(b, 'groupClause').length > 0 || isObject(b['havingClause']) || callsAggregate(b['targetList'], ctx.routines) || callsAggregate(b['sortClause'], ctx.routines)) return null;
  if (callsWindowOverValues(b['targetList']) || callsWindowOverValues(b['sortClause'])) return null;
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
    const fields = fieldNames(val.body);
    const plain = (fields.length === 1 && fields[0] === phi.column) || (fields.length === 2 && fields[0] === innerName && fields[1] === phi.column);
    const name = names[i]!;
    if (plain && names.filter((n) => n === name).length === 1) return { table: phi.table, name };
  }
  return null;
}

// The walk of queries (sql/walk.ts): WITH clauses, SELECT and its set operations, and FROM items,
// which give the names column references resolve through (sql/scope.ts).
import { aliasName, asNode, bodyOf, list, str, stringList, type AstBody } from './ast.ts';
import type { TableRef } from './facts.ts';
import { operatorsOf } from './routine-names.ts';
import { Scope, type FromItem } from './scope.ts';
import type { StatementWalker } from './statement-walker.ts';
import { tableRefsFromRangeVar } from './table-ref.ts';

const DML_NODES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

const RELATION: ReadonlySet<string> = new Set(['relation']);
const SELECT_HANDLED: ReadonlySet<string> = new Set(['withClause', 'intoClause', 'fromClause', 'larg', 'rarg']);

/** Registers a WITH clause's CTE names and walks their bodies; returns the scope they are visible in. */
export function walkWithClause(w: StatementWalker, value: unknown, scope: Scope): Scope {
  const clause = bodyOf(value, 'WithClause');
  if (clause === null) return scope;
  const s = new Scope(scope);
  const ctes = list(clause, 'ctes').map((c) => bodyOf(c, 'CommonTableExpr')).filter((c) => c !== null);
  // A recursive WITH sees all its names in every body; otherwise each body sees only the
  // CTEs before it, so `WITH patients AS (SELECT * FROM patients)` still reads the table.
  if (clause['recursive'] === true) for (const c of ctes) s.ctes.add(str(c, 'ctename') ?? '');
  for (const c of ctes) {
    const query = asNode(c['ctequery']);
    if (query !== null && DML_NODES.has(query.type)) w.cteWrites = true;
    w.walk(c['ctequery'], s, 'read');
    s.ctes.add(str(c, 'ctename') ?? '');
  }
  return s;
}

export function walkSelect(w: StatementWalker, body: AstBody, scope: Scope): void {
  const outer = walkWithClause(w, body['withClause'], scope);
  w.target(bodyOf(body['intoClause'], 'IntoClause')?.['rel'], 'write', 'create');
  const op = body['op'];
  if (typeof op === 'string' && op !== 'SETOP_NONE') {
    for (const side of ['larg', 'rarg']) {
      const arm = bodyOf(body[side], 'SelectStmt');
      if (arm !== null) walkSelect(w, arm, outer);
    }
    w.walkFields(body, outer, 'read', SELECT_HANDLED);
    return;
  }
  const q = new Scope(outer);
  for (const item of list(body, 'fromClause')) walkFromItem(w, item, q, outer);
  w.walkFields(body, q, 'read', SELECT_HANDLED);
}

/**
 * Adds one FROM item (and, for joins, the items inside it) to query scope `q`. Subqueries see
 * `outer` (the enclosing levels and CTEs), or `q` when LATERAL.
 */
export function walkFromItem(w: StatementWalker, value: unknown, q: Scope, outer: Scope): TableRef[] {
  const node = asNode(value);
  if (node === null) return [];
  const { type, body } = node;
  switch (type) {
    case 'RangeVar': {
      const name = str(body, 'relname') ?? '';
      const schema = str(body, 'schemaname');
      const tables: TableRef[] = [];
      if (schema !== null || !q.isCte(name)) {
        for (const ref of tableRefsFromRangeVar(body, w.rec.searchPath)) {
          w.rec.table(ref, 'read');
          tables.push(ref);
        }
      }
      q.items.push({ name: aliasName(body) ?? name, schema: aliasName(body) === null ? schema : null, tables });
      return tables;
    }
    case 'JoinExpr': {
      for (const op of operatorsOf(type, body)) w.rec.operator(op);
      const left = walkFromItem(w, body['larg'], q, outer);
      const right = walkFromItem(w, body['rarg'], q, outer);
      const tables = [...left, ...right];
      for (const c of stringList(list(body, 'usingClause')) ?? []) for (const t of tables) w.rec.column(t, c);
      w.walk(body['quals'], q, 'read');
      const alias = aliasName(body);
      if (alias !== null) q.items.push({ name: alias, schema: null, tables });
      return tables;
    }
    case 'RangeSubselect':
      w.walk(body['subquery'], body['lateral'] === true ? q : outer, 'read');
      q.items.push(derived(body));
      return [];
    case 'RangeTableSample': {
      const tables = walkFromItem(w, body['relation'], q, outer);
      w.walkFields(body, q, 'read', RELATION);
      return tables;
    }
    default:
      // Functions in FROM, XMLTABLE, JSON_TABLE, ...: may refer to earlier items (implicit LATERAL).
      w.walkFields(body, q, 'read');
      q.items.push(derived(body));
      return [];
  }
}

/** A FROM item with no base table of its own (subquery, function, CTE reference). */
function derived(body: AstBody): FromItem {
  return { name: aliasName(body), schema: null, tables: [] };
}

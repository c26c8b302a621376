// Walks one statement's parse tree for sql/column-uses.ts: the statement, its query levels with
// their WITH and FROM items (the scope expressions are resolved in) and output columns (lineage).
// Expressions and the clauses over output columns are walked by the base class
// (sql/column-use-expressions.ts), which records the uses; this class adds the set-operation,
// DISTINCT and join uses.
import type { TableRef } from './facts.ts';
import { asNode, bodyOf, list, str, stringList, type AstBody, type AstNode } from './ast.ts';
import {
  Carried,
  either,
  Level,
  mergedArms,
  renamed,
  sourceColumn,
  starOf,
  wholeItem,
  wholeOf,
  type Item,
  type Lineage,
  type Source,
} from './column-lineage.ts';
import { ExpressionUseWalker, type Use } from './column-use-expressions.ts';
import { aliasOf, defaultName } from './column-use-nodes.ts';
import type { StatementUses } from './column-uses.ts';
import { tableRefsFromRangeVar } from './table-ref.ts';

/** Statements whose rows come from an inner query: that query is walked as the statement. */
const STATEMENTS_WITH_QUERY = new Set(['ExplainStmt', 'DeclareCursorStmt', 'PrepareStmt', 'CreateTableAsStmt', 'CopyStmt', 'ViewStmt']);
const RECURSIVE_CTE_PASSES = 8;

export class ColumnUseWalker extends ExpressionUseWalker {
  constructor(private readonly searchPath: readonly string[]) {
    super();
  }

  run(stmt: AstNode): StatementUses {
    this.statement(stmt, new Level(null));
    return this.rec.result();
  }

  // ---- statements ----

  private statement(stmt: AstNode, root: Level): void {
    if (stmt.type === 'SelectStmt') {
      this.query(stmt.body, root, null);
      return;
    }
    if (STATEMENTS_WITH_QUERY.has(stmt.type)) {
      const inner = asNode(stmt.body['query']);
      if (inner !== null) this.statement(inner, root);
      return;
    }
    // Anything else (writes, DDL, ...) is refused while a mask applies or reads no rows; its
    // expressions are recorded as hidden uses, and queries nested in it are walked as queries.
    this.expr(stmt.body, root, { clause: 'this statement' });
  }

  /** A SELECT (or VALUES, or set operation) at `scope`; returns its output columns. */
  protected override query(body: AstBody, scope: Level, use: Use): Lineage {
    const outer = this.withClause(body['withClause'], scope);
    const op = str(body, 'op');
    if (op !== null && op !== 'SETOP_NONE') {
      const left = this.query(bodyOf(body['larg'], 'SelectStmt') ?? {}, outer, use);
      const right = this.query(bodyOf(body['rarg'], 'SelectStmt') ?? {}, outer, use);
      if (!(op === 'SETOP_UNION' && body['all'] === true)) {
        const clause = `${op.slice('SETOP_'.length)}${body['all'] === true ? ' ALL' : ''}`;
        this.recordOutputs(left, clause);
        this.recordOutputs(right, clause);
      }
      const merged = mergedArms(left, right);
      const level = new Level(outer);
      this.sortClause(list(body, 'sortClause'), level, merged, { clause: 'ORDER BY' });
      this.limits(body, level);
      return merged;
    }
    const q = new Level(outer);
    for (const item of list(body, 'fromClause')) this.fromItem(item, q, outer);
    const lineage = list(body, 'valuesLists').length > 0 ? this.values(list(body, 'valuesLists'), q, use) : this.targets(list(body, 'targetList'), q, use);
    this.expr(body['whereClause'], q, { clause: 'WHERE' });
    for (const g of list(body, 'groupClause')) this.groupItem(g, q, lineage, 'GROUP BY');
    this.expr(body['havingClause'], q, { clause: 'HAVING' });
    for (const w of list(body, 'windowClause')) this.windowDef(w, q);
    const distinct = list(body, 'distinctClause');
    if (distinct.length > 0 && asNode(distinct[0]) === null) this.recordOutputs(lineage, 'DISTINCT');
    else for (const d of distinct) this.groupItem(d, q, lineage, 'DISTINCT ON');
    this.sortClause(list(body, 'sortClause'), q, lineage, { clause: 'ORDER BY' });
    this.limits(body, q);
    return lineage;
  }

  private limits(body: AstBody, scope: Level): void {
    this.expr(body['limitCount'], scope, { clause: 'LIMIT' });
    this.expr(body['limitOffset'], scope, { clause: 'OFFSET' });
  }

  /** Records every output column as de-duplicated or compared (DISTINCT, UNION, INTERSECT, EXCEPT). */
  private recordOutputs(lineage: Lineage, clause: string): void {
    for (const e of lineage) {
      if (e.kind === 'named') this.rec.use(e.carried, clause, 'group');
      else this.rec.use(wholeOf([e]), clause, 'other');
    }
  }

  private targets(targets: readonly unknown[], q: Level, use: Use): Lineage {
    const out: Lineage = [];
    for (const t of targets) {
      const rt = bodyOf(t, 'ResTarget');
      if (rt === null) continue;
      const star = this.starTarget(rt['val'], q, use);
      if (star !== null) {
        out.push(...star);
        continue;
      }
      const carried = this.expr(rt['val'], q, use);
      out.push({ kind: 'named', name: str(rt, 'name') ?? defaultName(rt['val']), carried });
    }
    return out;
  }

  /** `*` or `a.*` in a target list: the columns it expands to; null for anything else. */
  private starTarget(value: unknown, q: Level, use: Use): Lineage | null {
    const ref = bodyOf(value, 'ColumnRef');
    if (ref === null || asNode(value)?.type !== 'ColumnRef') return null;
    const fields = list(ref, 'fields');
    if (asNode(fields[fields.length - 1])?.type !== 'A_Star') return null;
    const names = stringList(fields.slice(0, -1)) ?? [];
    let lineage: Lineage;
    if (names.length === 0) lineage = q.innermostItems().flatMap(starOf);
    else {
      const item = q.findItem(names[names.length - 1]!, names.length >= 2 ? (names[names.length - 2] ?? null) : null);
      lineage = item !== null ? starOf(item) : [{ kind: 'opaque', carried: q.unqualified(names[0]!).computed() }];
    }
    if (use !== null) this.rec.use(wholeOf(lineage), use.clause, 'other');
    return lineage;
  }

  /** VALUES: column i is any of the rows' i-th expressions (see either()). */
  private values(rows: readonly unknown[], q: Level, use: Use): Lineage {
    const columns: Carried[][] = [];
    for (const row of rows) {
      const items = list(asNode(row)?.body ?? {}, 'items');
      items.forEach((v, i) => (columns[i] ??= []).push(this.expr(v, q, use)));
    }
    return columns.map((alternatives, i) => ({ kind: 'named', name: `column${i + 1}`, carried: either(alternatives) }));
  }

  /** Registers a WITH clause's CTEs (with their output columns); returns the level they are visible in. */
  private withClause(value: unknown, scope: Level): Level {
    const w = bodyOf(value, 'WithClause');
    if (w === null) return scope;
    const level = new Level(scope);
    const ctes = list(w, 'ctes').map((c) => bodyOf(c, 'CommonTableExpr')).filter((c) => c !== null);
    if (w['recursive'] !== true) {
      for (const c of ctes) level.ctes.set(str(c, 'ctename') ?? '', this.cte(c, level));
      return level;
    }
    // A recursive CTE reads its own output: iterate until what each CTE carries stops growing.
    for (const c of ctes) level.ctes.set(str(c, 'ctename') ?? '', []);
    let size = -1;
    for (let pass = 0; pass < RECURSIVE_CTE_PASSES; pass++) {
      for (const c of ctes) level.ctes.set(str(c, 'ctename') ?? '', this.cte(c, level));
      const now = ctes.reduce((n, c) => n + wholeOf(level.ctes.get(str(c, 'ctename') ?? '') ?? []).size, 0);
      if (now === size) return level;
      size = now;
    }
    // Not settled (cannot happen for finite SQL, but fail closed): each CTE may carry anything read in the WITH.
    const everything = new Carried();
    for (const c of ctes) everything.addAll(wholeOf(level.ctes.get(str(c, 'ctename') ?? '') ?? []));
    for (const c of ctes) level.ctes.set(str(c, 'ctename') ?? '', [{ kind: 'opaque', carried: everything }]);
    return level;
  }

  private cte(c: AstBody, level: Level): Lineage {
    const query = asNode(c['ctequery']);
    let lineage: Lineage;
    if (query?.type === 'SelectStmt') lineage = this.query(query.body, level, null);
    else {
      // A data-modifying CTE (refused while a mask applies): what it returns may carry anything it reads.
      const carried = query === null ? new Carried() : this.expr(query.body, level, { clause: 'WITH' });
      lineage = [{ kind: 'opaque', carried: carried.computed() }];
    }
    lineage = renamed(lineage, stringList(list(c, 'aliascolnames')) ?? []);
    // SEARCH/CYCLE add columns computed from the CTE's own columns.
    if (c['search_clause'] !== undefined || c['cycle_clause'] !== undefined) lineage = [...lineage, { kind: 'opaque', carried: wholeOf(lineage) }];
    return lineage;
  }

  // ---- FROM ----

  /** Adds one FROM item (and, for joins, the items inside it) to `q`; returns the items added. */
  private fromItem(value: unknown, q: Level, outer: Level): Item[] {
    const node = asNode(value);
    if (node === null) return [];
    const { type, body } = node;
    switch (type) {
      case 'RangeVar': {
        const name = str(body, 'relname') ?? '';
        const schema = str(body, 'schemaname');
        const alias = aliasOf(body);
        const cte = schema === null ? q.cte(name) : null;
        // An unqualified name may denote a table in several schemas (sql/table-ref.ts): one source each.
        const sources: Source[] =
          cte !== null
            ? [{ kind: 'derived', lineage: renamed(cte, alias.columns) }]
            : tableRefsFromRangeVar(body, this.searchPath).map((table: TableRef): Source => ({ kind: 'table', table, aliases: alias.columns }));
        const item: Item = { name: alias.name ?? name, schema: alias.name === null ? schema : null, sources };
        q.items.push(item);
        return [item];
      }
      case 'JoinExpr':
        return this.join(body, q, outer);
      case 'RangeSubselect': {
        const sub = bodyOf(body['subquery'], 'SelectStmt') ?? {};
        const lineage = this.query(sub, body['lateral'] === true ? q : outer, null);
        return this.derivedItem(body, q, lineage);
      }
      case 'RangeTableSample': {
        const items = this.fromItem(body['relation'], q, outer);
        this.expr(body['args'], q, { clause: 'TABLESAMPLE' });
        this.expr(body['repeatable'], q, { clause: 'TABLESAMPLE' });
        return items;
      }
      default: {
        // Functions in FROM, ROWS FROM, XMLTABLE, JSON_TABLE: their arguments decide the rows.
        const carried = this.expr(body, q, { clause: 'a FROM-clause function' });
        return this.derivedItem(body, q, [{ kind: 'opaque', carried: carried.computed() }]);
      }
    }
  }

  private derivedItem(body: AstBody, q: Level, lineage: Lineage): Item[] {
    const alias = aliasOf(body);
    const item: Item = { name: alias.name, schema: null, sources: [{ kind: 'derived', lineage: renamed(lineage, alias.columns) }] };
    q.items.push(item);
    return [item];
  }

  private join(body: AstBody, q: Level, outer: Level): Item[] {
    const left = this.fromItem(body['larg'], q, outer);
    const right = this.fromItem(body['rarg'], q, outer);
    const items = [...left, ...right];
    if (body['isNatural'] === true) {
      // Joined on every common column name, which only the catalog knows.
      this.rec.operator(['=']);
      for (const i of items) this.rec.use(wholeItem(i), 'NATURAL JOIN', 'other');
    }
    for (const name of stringList(list(body, 'usingClause')) ?? []) {
      this.rec.operator(['=']);
      const side = (its: Item[]): Carried => either(its.flatMap((i) => i.sources.map((s) => sourceColumn(s, name))));
      const l = side(left);
      const r = side(right);
      this.rec.use(l, 'JOIN USING', 'equal', r);
      this.rec.use(r, 'JOIN USING', 'equal', l);
    }
    this.expr(body['quals'], q, { clause: 'JOIN' });
    const sources = items.flatMap((i) => i.sources);
    for (const alias of [aliasOf(body).name, str(bodyOf(body['join_using_alias'], 'Alias') ?? {}, 'aliasname')]) {
      if (alias !== null) q.items.push({ name: alias, schema: null, sources });
    }
    return items;
  }
}

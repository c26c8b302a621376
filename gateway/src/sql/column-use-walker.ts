// Walks one statement's parse tree for sql/column-uses.ts: query levels with their FROM items
// and output columns (lineage), the clauses that test columns, and every expression, recording
// table columns used outside output expressions, operations applied to them inside output
// expressions, and the routines named.
import type { TableRef } from './facts.ts';
import { asNode, bodyOf, isObject, list, str, stringList, stringValue, type AstBody, type AstNode } from './ast.ts';
import {
  byName,
  byPosition,
  Carried,
  either,
  itemColumn,
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
import { aliasOf, defaultName, intConst, isEquals, plainCall } from './column-use-nodes.ts';
import { routineName, UseRecorder } from './column-use-recorder.ts';
import { operationOf } from './output-operation.ts';
import type { StatementUses } from './column-uses.ts';
import { tableRefsFromRangeVar } from './table-ref.ts';

/** A hidden-use context: the clause named in messages; null while walking output expressions. */
type Use = { clause: string } | null;

/** Statements whose rows come from an inner query: that query is walked as the statement. */
const STATEMENTS_WITH_QUERY = new Set(['ExplainStmt', 'DeclareCursorStmt', 'PrepareStmt', 'CreateTableAsStmt', 'CopyStmt', 'ViewStmt']);
const RECURSIVE_CTE_PASSES = 8;

export class ColumnUseWalker {
  private readonly rec = new UseRecorder();

  constructor(private readonly searchPath: readonly string[]) {}

  run(stmt: AstNode): StatementUses {
    this.statement(stmt, new Level(null));
    return this.rec.result();
  }

  /** A TypeName body (`{names, typmods, arrayBounds}`); its modifiers are expressions too. */
  private typeName(body: AstBody, scope: Level, use: Use): void {
    this.rec.type(stringList(list(body, 'names')));
    this.expr(body['typmods'], scope, use);
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
  private query(body: AstBody, scope: Level, use: Use): Lineage {
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

  // ---- clauses that refer to output columns ----

  /** A GROUP BY / DISTINCT ON / PARTITION BY item: a plain column is grouped, anything else tested. */
  private groupItem(value: unknown, q: Level, lineage: Lineage, clause: string): void {
    const node = asNode(value);
    if (node === null) return;
    if (node.type === 'GroupingSet') {
      for (const g of list(node.body, 'content')) this.groupItem(g, q, lineage, clause);
      return;
    }
    const carried = this.outputReference(node, q, lineage);
    if (carried !== null) this.rec.use(carried, clause, 'group');
    else this.expr(value, q, { clause });
  }

  private sortClause(items: readonly unknown[], q: Level, lineage: Lineage, use: { clause: string }): void {
    for (const s of items) {
      const sort = bodyOf(s, 'SortBy');
      if (sort === null) continue;
      this.rec.operator(stringList(list(sort, 'useOp')));
      const node = asNode(sort['node']);
      const carried = node === null ? null : this.outputReference(node, q, lineage);
      if (carried !== null) this.rec.use(carried, use.clause, 'other');
      else this.expr(sort['node'], q, use);
    }
  }

  /**
   * A column reference or a position (`ORDER BY 2`): what it carries, a bare name matched against
   * both output names and input columns, as PostgreSQL may take either. Null for anything else.
   */
  private outputReference(node: AstNode, q: Level, lineage: Lineage): Carried | null {
    const position = intConst({ [node.type]: node.body });
    if (position !== null) return byPosition(lineage, position);
    if (node.type !== 'ColumnRef') return null;
    const carried = this.columnRef(node.body, q);
    const names = stringList(list(node.body, 'fields'));
    return names !== null && names.length === 1 ? either([carried, byName(lineage, names[0]!)]) : carried;
  }

  private windowDef(value: unknown, q: Level): void {
    const w = bodyOf(value, 'WindowDef');
    if (w === null) return;
    for (const p of list(w, 'partitionClause')) this.groupItem(p, q, [], 'a window PARTITION BY');
    this.sortClause(list(w, 'orderClause'), q, [], { clause: 'a window ORDER BY' });
    this.expr(w['startOffset'], q, { clause: 'a window frame' });
    this.expr(w['endOffset'], q, { clause: 'a window frame' });
  }

  // ---- expressions ----

  /** Walks an expression (or any node); returns the table columns its value may carry. */
  private expr(value: unknown, scope: Level, use: Use): Carried {
    if (Array.isArray(value)) {
      const c = new Carried();
      for (const v of value) c.addAll(this.expr(v, scope, use));
      return c.computed();
    }
    if (!isObject(value)) return new Carried();
    const node = asNode(value);
    if (node === null) return this.fieldsOf(value, scope, use);
    const carried = this.node(node, scope, use);
    if (use === null && carried.size > 0 && !this.passesThrough(node, scope)) {
      const operation = operationOf(node);
      if (operation !== null) this.rec.computed(carried, operation);
    }
    return carried;
  }

  /** `(p).col` and `col(p)` with p a FROM item are column col, not an operation on it. */
  private passesThrough(node: AstNode, scope: Level): boolean {
    if (node.type === 'FuncCall') return this.columnNotation(node.body, scope) !== null;
    if (node.type !== 'A_Indirection') return false;
    const steps = list(node.body, 'indirection');
    return steps.length === 1 && stringValue(steps[0]) !== null && this.namesItem(node.body['arg'], scope);
  }

  /** One expression node; see expr(). */
  private node(node: AstNode, scope: Level, use: Use): Carried {
    const { type, body } = node;
    switch (type) {
      case 'ColumnRef': {
        const carried = this.columnRef(body, scope);
        if (use !== null) this.rec.use(carried, use.clause, 'other');
        else this.outputColumnRef(body, scope, carried);
        return carried;
      }
      case 'SelectStmt':
        return wholeOf(this.query(body, scope, use));
      case 'SubLink':
        return this.subLink(body, scope, use);
      case 'FuncCall':
        return this.funcCall(body, scope, use);
      case 'A_Expr':
        return this.aExpr(body, scope, use);
      case 'A_Indirection':
        return this.indirection(body, scope, use);
      case 'CaseExpr':
        if (body['arg'] !== undefined) this.rec.operator(['=']);
        return this.fieldsOf(body, scope, use);
      case 'TypeName':
        this.typeName(body, scope, use);
        return new Carried();
      case 'WindowDef':
        this.windowDef({ [type]: body }, scope);
        return new Carried();
      case 'RangeVar':
        return new Carried(); // a relation named outside FROM (a statement target)
      default:
        return this.fieldsOf(body, scope, use);
    }
  }

  /** Every field of a node walked in the same context; TypeName fields are recorded as types. */
  private fieldsOf(body: AstBody, scope: Level, use: Use): Carried {
    const c = new Carried();
    for (const key in body) {
      const v = body[key];
      if (typeof v !== 'object' || v === null) continue;
      if ((key === 'typeName' || key === 'ofType') && isObject(v) && asNode(v) === null) this.typeName(v, scope, use);
      else c.addAll(this.expr(v, scope, use));
    }
    return c.computed();
  }

  /**
   * A column reference in an output expression: a whole-row reference (`p`, `p.*` inside an
   * expression) computes on every column of the row; `p.f` may be function f of the whole row.
   */
  private outputColumnRef(body: AstBody, scope: Level, carried: Carried): void {
    const names = list(body, 'fields').map((f) => (asNode(f)?.type === 'A_Star' ? '*' : (stringValue(f) ?? '')));
    const last = names[names.length - 1];
    if (last === undefined) return;
    if (last === '*' || (names.length === 1 && scope.findItem(last, null) !== null)) {
      this.rec.computed(carried, 'a whole-row reference');
      return;
    }
    if (names.length < 2) return;
    const item = scope.findItem(names[names.length - 2] ?? '', names.length >= 3 ? (names[names.length - 3] ?? null) : null);
    if (item !== null) this.rec.outputField(last, wholeItem(item));
  }

  /** What a column reference carries (not recorded here). */
  private columnRef(body: AstBody, scope: Level): Carried {
    const fields = list(body, 'fields');
    const names = fields.map((f) => (asNode(f)?.type === 'A_Star' ? '*' : (stringValue(f) ?? '')));
    for (const n of names.slice(1)) if (n !== '*') this.rec.field(n);
    const column = names[names.length - 1];
    if (column === undefined) return new Carried();
    if (names.length === 1) {
      if (column === '*') return scope.innermostItems().reduce((c, i) => c.addAll(wholeItem(i)), new Carried());
      return scope.unqualified(column);
    }
    const item = scope.findItem(names[names.length - 2] ?? '', names.length >= 3 ? (names[names.length - 3] ?? null) : null);
    if (item !== null) return column === '*' ? wholeItem(item) : itemColumn(item, column);
    // Not a FROM item: `a.b` is field b of composite column a.
    return scope.unqualified(names[0] ?? '').computed();
  }

  private subLink(body: AstBody, scope: Level, use: Use): Carried {
    const kind = str(body, 'subLinkType');
    const c = this.expr(body['testexpr'], scope, use);
    const op = stringList(list(body, 'operName'));
    if (op !== null && op.length > 0) this.rec.operator(op);
    else if (kind === 'ANY_SUBLINK' || kind === 'ALL_SUBLINK') this.rec.operator(['=']);
    const lineage = this.query(bodyOf(body['subselect'], 'SelectStmt') ?? {}, scope, use);
    if (kind !== 'EXISTS_SUBLINK') c.addAll(wholeOf(lineage));
    return c.computed();
  }

  private funcCall(body: AstBody, scope: Level, use: Use): Carried {
    const names = stringList(list(body, 'funcname')) ?? [];
    const name = routineName(names);
    const args = list(body, 'args');
    const notation = this.columnNotation(body, scope);
    if (name !== null) this.rec.func(name, notation !== null);
    if (use === null && name !== null && notation !== null) {
      // `f(p)` in the output: column p.f, unless a function f exists (then a computation on row p).
      this.rec.outputField(name.name, wholeItem(notation));
      return itemColumn(notation, name.name);
    }
    const carried = this.expr(args, scope, use);
    if (body['agg_within_group'] === true) carried.addAll(this.sortValues(list(body, 'agg_order'), scope, use));
    else this.sortClause(list(body, 'agg_order'), scope, [], { clause: 'an aggregate ORDER BY' });
    this.expr(body['agg_filter'], scope, { clause: 'an aggregate FILTER' });
    this.windowDef(body['over'], scope);
    if (use === null && name !== null && carried.size > 0) this.rec.outputCall(name, carried);
    return carried.computed();
  }

  /** WITHIN GROUP (ORDER BY x): x is the aggregate's input, not an ordering of the result. */
  private sortValues(items: readonly unknown[], scope: Level, use: Use): Carried {
    const c = new Carried();
    for (const s of items) {
      const sort = bodyOf(s, 'SortBy');
      if (sort === null) continue;
      this.rec.operator(stringList(list(sort, 'useOp')));
      c.addAll(this.expr(sort['node'], scope, use));
    }
    return c;
  }

  /** The FROM item p of `f(p)` (PostgreSQL's notation for column p.f when there is no function f), or null. */
  private columnNotation(body: AstBody, scope: Level): Item | null {
    const names = stringList(list(body, 'funcname')) ?? [];
    const args = list(body, 'args');
    if (names.length !== 1 || args.length !== 1 || !plainCall(body) || !this.namesItem(args[0], scope)) return null;
    const item = (stringList(list(asNode(args[0])!.body, 'fields')) ?? [])[0];
    return item === undefined ? null : scope.findItem(item, null);
  }

  /** Whether `value` is a bare name of a FROM item (a whole-row reference). */
  private namesItem(value: unknown, scope: Level): boolean {
    const ref = asNode(value);
    if (ref?.type !== 'ColumnRef') return false;
    const names = stringList(list(ref.body, 'fields'));
    return names !== null && names.length === 1 && scope.findItem(names[0]!, null) !== null;
  }

  private aExpr(body: AstBody, scope: Level, use: Use): Carried {
    const kind = str(body, 'kind') ?? '';
    const names = stringList(list(body, 'name'));
    if (kind.includes('BETWEEN')) for (const op of ['<', '<=', '>', '>=']) this.rec.operator([op]);
    else if (names !== null) this.rec.operator(names);
    if (use !== null && kind === 'AEXPR_OP' && isEquals(names)) {
      const l = asNode(body['lexpr']);
      const r = asNode(body['rexpr']);
      if (l?.type === 'ColumnRef' && r?.type === 'ColumnRef') {
        const lc = this.columnRef(l.body, scope);
        const rc = this.columnRef(r.body, scope);
        this.rec.use(lc, use.clause, 'equal', rc);
        this.rec.use(rc, use.clause, 'equal', lc);
        return lc.addAll(rc).computed();
      }
    }
    return this.expr(body['lexpr'], scope, use).addAll(this.expr(body['rexpr'], scope, use)).computed();
  }

  /** `(p).ssn` is column ssn of item p; other field selections carry what their argument carries. */
  private indirection(body: AstBody, scope: Level, use: Use): Carried {
    const steps = list(body, 'indirection');
    for (const s of steps) {
      const f = stringValue(s);
      if (f !== null) this.rec.field(f);
    }
    const arg = asNode(body['arg']);
    const first = stringValue(steps[0]);
    let carried: Carried;
    if (arg !== null && first !== null && this.namesItem(body['arg'], scope)) {
      const name = (stringList(list(arg.body, 'fields')) ?? [])[0] ?? '';
      // A column of that name, if there is one, is taken before the item (then this is its field).
      const item = scope.findItem(name, null)!;
      carried = itemColumn(item, first).addAll(scope.columnsNamed(name).computed());
      if (use !== null) this.rec.use(carried, use.clause, 'other');
      else this.rec.outputField(first, wholeItem(item));
    } else carried = this.expr(body['arg'], scope, use);
    const rest = this.expr(steps, scope, use);
    return steps.length > 1 || first === null ? carried.computed().addAll(rest) : carried.addAll(rest);
  }
}

// The expression half of the column-use walk (see sql/column-use-walker.ts): walks every expression,
// recording table columns used outside output expressions and operations applied to them inside
// output expressions, and the clauses that list expressions against output columns (GROUP BY,
// DISTINCT ON, ORDER BY, windows). Queries nested in expressions go back to the subclass's query().
import { asNode, bodyOf, isObject, list, str, stringList, stringValue, type AstBody, type AstNode } from './ast.ts';
import { byName, byPosition, Carried, either, itemColumn, Level, wholeItem, wholeOf, type Item, type Lineage } from './column-lineage.ts';
import { intConst, isEquals, plainCall } from './column-use-nodes.ts';
import { routineName, UseRecorder } from './column-use-recorder.ts';
import { operationOf } from './output-operation.ts';

/** A hidden-use context: the clause named in messages; null while walking output expressions. */
export type Use = { clause: string } | null;

export abstract class ExpressionUseWalker {
  protected readonly rec = new UseRecorder();

  /** A SELECT (or VALUES, or set operation) at `scope`; returns its output columns. */
  protected abstract query(body: AstBody, scope: Level, use: Use): Lineage;

  // ---- clauses that refer to output columns ----

  /** A GROUP BY / DISTINCT ON / PARTITION BY item: a plain column is grouped, anything else tested. */
  protected groupItem(value: unknown, q: Level, lineage: Lineage, clause: string): void {
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

  protected sortClause(items: readonly unknown[], q: Level, lineage: Lineage, use: { clause: string }): void {
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

  protected windowDef(value: unknown, q: Level): void {
    const w = bodyOf(value, 'WindowDef');
    if (w === null) return;
    for (const p of list(w, 'partitionClause')) this.groupItem(p, q, [], 'a window PARTITION BY');
    this.sortClause(list(w, 'orderClause'), q, [], { clause: 'a window ORDER BY' });
    this.expr(w['startOffset'], q, { clause: 'a window frame' });
    this.expr(w['endOffset'], q, { clause: 'a window frame' });
  }

  // ---- expressions ----

  /** Walks an expression (or any node); returns the table columns its value may carry. */
  protected expr(value: unknown, scope: Level, use: Use): Carried {
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

  /** A TypeName body (`{names, typmods, arrayBounds}`); its modifiers are expressions too. */
  private typeName(body: AstBody, scope: Level, use: Use): void {
    this.rec.type(stringList(list(body, 'names')));
    this.expr(body['typmods'], scope, use);
  }
}

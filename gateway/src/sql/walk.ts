// Walks one statement's AST, visiting every node, and collects tables, columns and functions.
//
// The walk is generic: any node it has no handler for has all its fields walked, so tables and
// functions nested in unforeseen places are still found. Handlers exist only where names have
// scope: queries (FROM items, CTEs), DML targets, COPY, and DDL that names tables as strings.
import type { TableRef } from './facts.ts';
import { asNode, bodyOf, isObject, list, str, stringList, stringValue, type AstBody, type AstNode } from './ast.ts';
import { commentTargets, dropTargets } from './ddl-targets.ts';
import { FactsRecorder, type RecordedFacts, type TargetMode } from './facts-recorder.ts';
import { Scope, type FromItem } from './scope.ts';
import { statementKind } from './statement-kind.ts';
import { functionNames } from './function-names.ts';
import { bareTypeName, operatorsOf, typeNameOf } from './routine-names.ts';
import { tableRefsFromRangeVar, type NameUse } from './table-ref.ts';

/** Fields naming a relation that a DDL statement only refers to (REFERENCES y, LIKE y, INHERITS y). */
const REFERENCE_FIELDS = new Set(['pktable', 'inhRelations']);

const DML_NODES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Statements creating a relation: the RangeVar field naming it, inside the bare struct `base` when given. */
const CREATED_RELATION = {
  CreateStmt: ['relation'],
  CreateForeignTableStmt: ['relation', 'base'],
  ViewStmt: ['view'],
  CreateSeqStmt: ['sequence'],
  CompositeTypeStmt: ['typevar'],
} as const satisfies Record<string, readonly [string, string?]>;

/** LockStmt.mode at or below which a LOCK only reads (AccessShareLock = 1). */
const ACCESS_SHARE_LOCK = 1;

export interface WalkResult extends RecordedFacts {
  cteWrites: boolean;
}

/**
 * The target mode a statement node sets for relations named outside FROM clauses: in DDL,
 * GRANT and maintenance statements they are the statement's targets; elsewhere they are read.
 */
function modeFor(type: string, body: AstBody): TargetMode {
  switch (statementKind(type, body)) {
    case 'ddl':
    case 'grant':
    case 'vacuum':
    case 'other':
      return 'write';
    case 'lock': {
      const mode = body['mode'];
      return typeof mode === 'number' && mode <= ACCESS_SHARE_LOCK ? 'read' : 'write';
    }
    default:
      return 'read';
  }
}

function aliasName(body: AstBody): string | null {
  const alias = body['alias'];
  return isObject(alias) ? str(alias, 'aliasname') : null;
}

/** Collects the facts of one statement; use once per statement. */
export class FactsWalker {
  private readonly rec: FactsRecorder;
  private cteWrites = false;
  /**
   * The targets of the writes being walked (by qualified name). A column reference that may denote
   * a target's column (WHERE, SET values, RETURNING, ON CONFLICT, MERGE conditions) makes the target
   * read as well: PostgreSQL needs SELECT on those columns, and their values reach the client
   * (RETURNING) or decide which rows change (WHERE), so a policy's masks on the target must apply.
   * The target of UPDATE, DELETE, MERGE and INSERT ... ON CONFLICT is read in any case: the stored
   * rows they touch are quoted by constraint errors ("Failing row contains (...)", "Key (c)=(...)").
   */
  private readonly writeTargets = new Set<string>();

  constructor(searchPath: readonly string[]) {
    this.rec = new FactsRecorder(searchPath);
  }

  walkStatement(stmt: AstNode): WalkResult {
    this.visit(stmt, new Scope(null), modeFor(stmt.type, stmt.body));
    return { ...this.rec.result(), cteWrites: this.cteWrites };
  }

  /**
   * Records a relation named outside FROM (a DDL/DML target or reference) and returns the tables
   * it may denote (several for an unqualified name: see table-ref.ts).
   */
  private target(rangeVar: unknown, mode: TargetMode, use: NameUse = 'lookup'): TableRef[] {
    const body = bodyOf(rangeVar, 'RangeVar');
    if (body === null) return [];
    const refs = tableRefsFromRangeVar(body, this.rec.searchPath, use);
    for (const ref of refs) this.rec.table(ref, mode);
    return refs;
  }

  /** A statement creating a relation (CREATED_RELATION says where it names it): a target in the first schema of the path. */
  private creates(type: keyof typeof CREATED_RELATION, body: AstBody, scope: Scope): void {
    const mode = modeFor(type, body);
    const [field, base] = CREATED_RELATION[type];
    const holder = base === undefined ? body : bodyOf(body[base], 'CreateStmt');
    if (holder === null) return this.walkFields(body, scope, mode);
    this.target(holder[field], 'write', 'create');
    if (base === undefined) return this.walkFields(body, scope, mode, new Set([field]));
    this.walkFields(holder, scope, mode, new Set([field]));
    this.walkFields(body, scope, mode, new Set([base]));
  }

  // ---- generic walk ----

  private walk(value: unknown, scope: Scope, mode: TargetMode): void {
    if (Array.isArray(value)) {
      for (const v of value) this.walk(v, scope, mode);
      return;
    }
    if (!isObject(value)) return;
    const node = asNode(value);
    if (node !== null) this.visit(node, scope, mode);
    else if (typeof value['relname'] === 'string') this.target(value, mode); // a bare RangeVar
    else this.walkFields(value, scope, mode);
  }

  private walkFields(body: AstBody, scope: Scope, mode: TargetMode, skip?: ReadonlySet<string>): void {
    for (const key in body) {
      if (skip?.has(key) === true) continue;
      const v = body[key];
      if (typeof v !== 'object' || v === null) continue;
      const type = bareTypeName(key, v);
      if (type !== null) this.rec.type(type);
      this.walk(v, scope, REFERENCE_FIELDS.has(key) ? 'read' : mode);
    }
  }

  private visit(node: AstNode, scope: Scope, mode: TargetMode): void {
    const { type, body } = node;
    for (const op of operatorsOf(type, body)) this.rec.operator(op);
    switch (type) {
      case 'SelectStmt':
        return this.select(body, scope);
      case 'InsertStmt':
        return this.insert(body, scope);
      case 'UpdateStmt':
        return this.update(body, scope);
      case 'DeleteStmt':
        return this.delete(body, scope);
      case 'MergeStmt':
        return this.merge(body, scope);
      case 'CopyStmt':
        return this.copy(body, scope);
      case 'DropStmt':
        return dropTargets(body, this.rec);
      case 'CommentStmt':
        return commentTargets(body, this.rec);
      case 'GrantStmt':
        return this.grant(body, scope);
      case 'RangeVar':
        this.target(body, mode);
        return;
      case 'CreateStmt':
      case 'CreateForeignTableStmt':
      case 'ViewStmt':
      case 'CreateSeqStmt':
      case 'CompositeTypeStmt':
        return this.creates(type, body, scope);
      case 'CreateTableAsStmt': {
        const into = bodyOf(body['into'], 'IntoClause');
        if (into !== null) this.target(into['rel'], 'write', 'create');
        return this.walkFields(body, scope, modeFor(type, body), INTO);
      }
      case 'TableLikeClause':
        return this.walkFields(body, scope, 'read');
      case 'ColumnRef':
        return this.columnRef(body, scope);
      case 'FuncCall':
        return this.funcCall(body, scope, mode);
      case 'A_Indirection':
        return this.indirection(body, scope, mode);
      case 'CallStmt': {
        const call = bodyOf(body['funccall'], 'FuncCall');
        if (call !== null) this.funcCall(call, scope, mode);
        return;
      }
      case 'LockingClause':
        return; // FOR UPDATE OF a: names FROM items already seen, not tables
      case 'TypeName': {
        const name = typeNameOf(body);
        if (name !== null) this.rec.type(name);
        return this.walkFields(body, scope, mode);
      }
      default:
        // Any other statement (nested in EXPLAIN, PREPARE, CREATE RULE, ...) sets its own mode.
        this.walkFields(body, scope, type.endsWith('Stmt') ? modeFor(type, body) : mode);
    }
  }

  // ---- expressions ----

  private funcCall(body: AstBody, scope: Scope, mode: TargetMode): void {
    const names = stringList(list(body, 'funcname'));
    if (names !== null) for (const f of functionNames(names)) this.rec.func(f);
    this.walkFields(body, scope, mode, FUNCNAME);
  }

  /**
   * `(x).f`, `(x).f.g`, `(x)[1]`: each name selected may be a function applied to what precedes it
   * (PostgreSQL's functional notation: `(x).f` is `f(x)` when x has no field f), so it is
   * recorded as a possible call, like an unqualified function name.
   */
  private indirection(body: AstBody, scope: Scope, mode: TargetMode): void {
    for (const member of list(body, 'indirection')) {
      const name = stringValue(member);
      if (name !== null) for (const f of functionNames([name])) this.rec.func(f);
    }
    this.walkFields(body, scope, mode);
  }

  /**
   * Attributes a column reference to base tables. `alias.col` and `schema.table.col` resolve
   * through FROM items, innermost query level first. An unqualified name cannot be resolved
   * without the catalog when several tables are visible (including outer query levels, for
   * correlated subqueries): it is then listed under EVERY visible table, so that a policy
   * masking or denying a column errs on the side of masking or denying. An unqualified name
   * that is a FROM item's name is a whole-row reference (`SELECT p FROM patients p`) and
   * counts as "*" for that item's tables.
   */
  private columnRef(body: AstBody, scope: Scope): void {
    const names: string[] = [];
    const attribute = (t: TableRef, column: string): void => {
      this.rec.column(t, column);
      if (this.writeTargets.has(t.qualified)) this.rec.table(t, 'read');
    };
    for (const f of list(body, 'fields')) {
      const node = asNode(f);
      names.push(node?.type === 'A_Star' ? '*' : (stringValue(f) ?? ''));
    }
    const column = names[names.length - 1];
    if (column === undefined) return;
    // `t.f`, `s.t.f`: the last name may be a function applied to the whole row of t (functional
    // notation: `t.f` is `f(t)` when t has no column f; for a function in FROM returning a scalar,
    // `t` is that scalar), so it is also recorded as a possible call.
    if (names.length >= 2 && column !== '*') for (const f of functionNames([column])) this.rec.func(f);
    if (names.length === 1) {
      if (column === '*') {
        for (const t of scope.innermostTables()) attribute(t, '*');
        return;
      }
      const whole = scope.findItem(column, null);
      if (whole !== null) for (const t of whole.tables) attribute(t, '*');
      for (const t of scope.visibleTables()) attribute(t, column);
      return;
    }
    const relation = names[names.length - 2] ?? '';
    const schema = names.length >= 3 ? (names[names.length - 3] ?? null) : null;
    const item = scope.findItem(relation, schema);
    if (item !== null) {
      for (const t of item.tables) attribute(t, column);
      return;
    }
    // Not a FROM item: `a.b` may be field b of composite column a. Attribute column a.
    const first = names[0] ?? '';
    for (const t of scope.visibleTables()) attribute(t, first);
  }

  // ---- queries ----

  /** Registers a WITH clause's CTE names and walks their bodies; returns the scope they are visible in. */
  private withClause(value: unknown, scope: Scope): Scope {
    const w = bodyOf(value, 'WithClause');
    if (w === null) return scope;
    const s = new Scope(scope);
    const ctes = list(w, 'ctes').map((c) => bodyOf(c, 'CommonTableExpr')).filter((c) => c !== null);
    // A recursive WITH sees all its names in every body; otherwise each body sees only the
    // CTEs before it, so `WITH patients AS (SELECT * FROM patients)` still reads the table.
    if (w['recursive'] === true) for (const c of ctes) s.ctes.add(str(c, 'ctename') ?? '');
    for (const c of ctes) {
      const query = asNode(c['ctequery']);
      if (query !== null && DML_NODES.has(query.type)) this.cteWrites = true;
      this.walk(c['ctequery'], s, 'read');
      s.ctes.add(str(c, 'ctename') ?? '');
    }
    return s;
  }

  private select(body: AstBody, scope: Scope): void {
    const outer = this.withClause(body['withClause'], scope);
    this.target(bodyOf(body['intoClause'], 'IntoClause')?.['rel'], 'write', 'create');
    const op = body['op'];
    if (typeof op === 'string' && op !== 'SETOP_NONE') {
      for (const side of ['larg', 'rarg']) {
        const arm = bodyOf(body[side], 'SelectStmt');
        if (arm !== null) this.select(arm, outer);
      }
      this.walkFields(body, outer, 'read', SELECT_HANDLED);
      return;
    }
    const q = new Scope(outer);
    for (const item of list(body, 'fromClause')) this.fromItem(item, q, outer);
    this.walkFields(body, q, 'read', SELECT_HANDLED);
  }

  /**
   * Adds one FROM item (and, for joins, the items inside it) to query scope `q`. Subqueries see
   * `outer` (the enclosing levels and CTEs), or `q` when LATERAL.
   */
  private fromItem(value: unknown, q: Scope, outer: Scope): TableRef[] {
    const node = asNode(value);
    if (node === null) return [];
    const { type, body } = node;
    switch (type) {
      case 'RangeVar': {
        const name = str(body, 'relname') ?? '';
        const schema = str(body, 'schemaname');
        const tables: TableRef[] = [];
        if (schema !== null || !q.isCte(name)) {
          for (const ref of tableRefsFromRangeVar(body, this.rec.searchPath)) {
            this.rec.table(ref, 'read');
            tables.push(ref);
          }
        }
        q.items.push({ name: aliasName(body) ?? name, schema: aliasName(body) === null ? schema : null, tables });
        return tables;
      }
      case 'JoinExpr': {
        for (const op of operatorsOf(type, body)) this.rec.operator(op);
        const left = this.fromItem(body['larg'], q, outer);
        const right = this.fromItem(body['rarg'], q, outer);
        const tables = [...left, ...right];
        for (const c of stringList(list(body, 'usingClause')) ?? []) for (const t of tables) this.rec.column(t, c);
        this.walk(body['quals'], q, 'read');
        const alias = aliasName(body);
        if (alias !== null) q.items.push({ name: alias, schema: null, tables });
        return tables;
      }
      case 'RangeSubselect':
        this.walk(body['subquery'], body['lateral'] === true ? q : outer, 'read');
        q.items.push(derived(body));
        return [];
      case 'RangeTableSample': {
        const tables = this.fromItem(body['relation'], q, outer);
        this.walkFields(body, q, 'read', RELATION);
        return tables;
      }
      default:
        // Functions in FROM, XMLTABLE, JSON_TABLE, ...: may refer to earlier items (implicit LATERAL).
        this.walkFields(body, q, 'read');
        q.items.push(derived(body));
        return [];
    }
  }

  // ---- data-modifying statements ----

  /**
   * Records a DML target as written and returns the scope its columns are referred to in:
   * the target under its own name or alias, and PostgreSQL 18's `old`/`new` in RETURNING.
   */
  private dmlTarget(body: AstBody, outer: Scope, extraNames: readonly string[] = []): { refs: TableRef[]; q: Scope } {
    const q = new Scope(outer);
    const names = ['old', 'new', ...extraNames];
    const returning = bodyOf(body['returningClause'], 'ReturningClause');
    for (const o of returning === null ? [] : list(returning, 'options')) {
      const alias = bodyOf(o, 'ReturningOption')?.['value']; // RETURNING WITH (OLD AS o)
      if (typeof alias === 'string') names.push(alias);
    }
    const relation = bodyOf(body['relation'], 'RangeVar');
    const refs = this.target(relation, 'write');
    for (const r of refs) this.writeTargets.add(r.qualified);
    const first = refs[0];
    if (relation !== null && first !== undefined) {
      const alias = aliasName(relation);
      q.items.push({ name: alias ?? first.name, schema: alias === null ? str(relation, 'schemaname') : null, tables: refs });
      for (const n of names) q.items.push({ name: n, schema: null, tables: refs });
    }
    return { refs, q };
  }

  /** ResTarget names in INSERT column lists, UPDATE SET and MERGE actions are target columns. */
  private targetColumns(targets: readonly unknown[], refs: readonly TableRef[], q: Scope): void {
    for (const t of targets) {
      const rt = bodyOf(t, 'ResTarget');
      if (rt === null) continue;
      const name = str(rt, 'name');
      if (name !== null) for (const ref of refs) this.rec.column(ref, name);
      this.walk(rt['val'], q, 'read');
      this.walk(rt['indirection'], q, 'read');
    }
  }

  private insert(body: AstBody, scope: Scope): void {
    const outer = this.withClause(body['withClause'], scope);
    const { refs, q } = this.dmlTarget(body, outer, ['excluded']);
    const cols = list(body, 'cols');
    this.targetColumns(cols, refs, q);
    if (cols.length === 0) for (const ref of refs) this.rec.column(ref, '*'); // no list: every column is written
    this.walk(body['selectStmt'], outer, 'read');
    const conflict = bodyOf(body['onConflictClause'], 'OnConflictClause');
    if (conflict !== null) {
      for (const ref of refs) this.rec.table(ref, 'read');
      // ON CONFLICT (c): the arbiter compares the new row with stored values of c, a read of c.
      const infer = bodyOf(conflict['infer'], 'InferClause');
      for (const e of infer === null ? [] : list(infer, 'indexElems')) {
        const name = str(bodyOf(e, 'IndexElem') ?? {}, 'name');
        if (name !== null) for (const ref of refs) this.rec.column(ref, name);
      }
      this.targetColumns(list(conflict, 'targetList'), refs, q);
      this.walkFields(conflict, q, 'read', TARGET_LIST);
    }
    this.walk(body['returningClause'], q, 'read');
  }

  private update(body: AstBody, scope: Scope): void {
    const outer = this.withClause(body['withClause'], scope);
    const { refs, q } = this.dmlTarget(body, outer);
    for (const ref of refs) this.rec.table(ref, 'read');
    for (const item of list(body, 'fromClause')) this.fromItem(item, q, outer);
    this.targetColumns(list(body, 'targetList'), refs, q);
    this.walk(body['whereClause'], q, 'read');
    this.walk(body['returningClause'], q, 'read');
  }

  private delete(body: AstBody, scope: Scope): void {
    const outer = this.withClause(body['withClause'], scope);
    const { refs, q } = this.dmlTarget(body, outer);
    for (const ref of refs) this.rec.table(ref, 'read');
    for (const item of list(body, 'usingClause')) this.fromItem(item, q, outer);
    this.walk(body['whereClause'], q, 'read');
    this.walk(body['returningClause'], q, 'read');
  }

  private merge(body: AstBody, scope: Scope): void {
    const outer = this.withClause(body['withClause'], scope);
    const { refs, q } = this.dmlTarget(body, outer);
    for (const ref of refs) this.rec.table(ref, 'read');
    this.fromItem(body['sourceRelation'], q, outer);
    this.walk(body['joinCondition'], q, 'read');
    for (const w of list(body, 'mergeWhenClauses')) {
      const when = bodyOf(w, 'MergeWhenClause');
      if (when === null) continue;
      this.targetColumns(list(when, 'targetList'), refs, q);
      this.walkFields(when, q, 'read', TARGET_LIST);
    }
    this.walk(body['returningClause'], q, 'read');
  }

  private copy(body: AstBody, scope: Scope): void {
    const relation = bodyOf(body['relation'], 'RangeVar');
    if (relation !== null) {
      const refs = this.target(relation, body['is_from'] === true ? 'write' : 'read');
      const first = refs[0];
      if (first === undefined) return;
      const cols = stringList(list(body, 'attlist')) ?? [];
      for (const c of cols.length > 0 ? cols : ['*']) for (const ref of refs) this.rec.column(ref, c);
      const q = new Scope(scope);
      q.items.push({ name: first.name, schema: null, tables: refs });
      this.walk(body['whereClause'], q, 'read'); // COPY ... FROM ... WHERE
    }
    this.walk(body['query'], scope, 'read');
  }

  // ---- privileges ----

  /** GRANT ... ON TABLE t: t is the target; column privileges `SELECT (ssn)` name its columns. */
  private grant(body: AstBody, scope: Scope): void {
    const objectTables = str(body, 'objtype') === 'OBJECT_TABLE' && str(body, 'targtype') === 'ACL_TARGET_OBJECT';
    const refs: TableRef[] = [];
    if (objectTables) for (const o of list(body, 'objects')) {
      refs.push(...this.target(o, 'write'));
    }
    for (const p of list(body, 'privileges')) {
      const priv = bodyOf(p, 'AccessPriv');
      for (const c of priv === null ? [] : (stringList(list(priv, 'cols')) ?? [])) for (const r of refs) this.rec.column(r, c);
    }
    this.walkFields(body, scope, 'write', OBJECTS);
  }
}

const FUNCNAME: ReadonlySet<string> = new Set(['funcname']);
const INTO: ReadonlySet<string> = new Set(['into']);
const RELATION: ReadonlySet<string> = new Set(['relation']);
const OBJECTS: ReadonlySet<string> = new Set(['objects']);
const TARGET_LIST: ReadonlySet<string> = new Set(['targetList']);
const SELECT_HANDLED: ReadonlySet<string> = new Set(['withClause', 'intoClause', 'fromClause', 'larg', 'rarg']);

/** A FROM item with no base table of its own (subquery, function, CTE reference). */
function derived(body: AstBody): FromItem {
  return { name: aliasName(body), schema: null, tables: [] };
}

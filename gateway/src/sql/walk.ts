// Walks one statement's AST, visiting every node, and collects tables, columns and functions.
//
// The walk is generic: any node it has no handler for has all its fields walked, so tables and
// functions nested in unforeseen places are still found. Handlers exist only where names have
// scope: queries (FROM items, CTEs: sql/walk-query.ts), DML targets and COPY (sql/walk-dml.ts),
// column references (sql/column-attribution.ts), and DDL that names tables as strings.
import type { TableRef } from './facts.ts';
import { asNode, bodyOf, isObject, list, str, stringList, stringValue, type AstBody, type AstNode } from './ast.ts';
import { attributeColumnRef } from './column-attribution.ts';
import { commentTargets, dropTargets } from './ddl-targets.ts';
import { FactsRecorder, type RecordedFacts, type TargetMode } from './facts-recorder.ts';
import { Scope } from './scope.ts';
import type { StatementWalker } from './statement-walker.ts';
import { functionNames } from './function-names.ts';
import { bareTypeName, operatorsOf, typeNameOf } from './routine-names.ts';
import { tableRefsFromRangeVar, type NameUse } from './table-ref.ts';
import { modeFor } from './target-mode.ts';
import { walkCopy, walkInsert, walkMerge, walkUpdateOrDelete } from './walk-dml.ts';
import { walkSelect } from './walk-query.ts';

/** Fields naming a relation that a DDL statement only refers to (REFERENCES y, LIKE y, INHERITS y). */
const REFERENCE_FIELDS = new Set(['pktable', 'inhRelations']);

/** Statements creating a relation: the RangeVar field naming it, inside the bare struct `base` when given. */
const CREATED_RELATION = {
  CreateStmt: ['relation'],
  CreateForeignTableStmt: ['relation', 'base'],
  ViewStmt: ['view'],
  CreateSeqStmt: ['sequence'],
  CompositeTypeStmt: ['typevar'],
} as const satisfies Record<string, readonly [string, string?]>;

const FUNCNAME: ReadonlySet<string> = new Set(['funcname']);
const INTO: ReadonlySet<string> = new Set(['into']);
const OBJECTS: ReadonlySet<string> = new Set(['objects']);

export interface WalkResult extends RecordedFacts {
  cteWrites: boolean;
}

/** Collects the facts of one statement; use once per statement. */
export class FactsWalker implements StatementWalker {
  readonly rec: FactsRecorder;
  cteWrites = false;
  readonly writeTargets = new Set<string>();

  constructor(searchPath: readonly string[]) {
    this.rec = new FactsRecorder(searchPath);
  }

  walkStatement(stmt: AstNode): WalkResult {
    this.visit(stmt, new Scope(null), modeFor(stmt.type, stmt.body));
    return { ...this.rec.result(), cteWrites: this.cteWrites };
  }

  target(rangeVar: unknown, mode: TargetMode, use: NameUse = 'lookup'): TableRef[] {
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

  walk(value: unknown, scope: Scope, mode: TargetMode): void {
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

  walkFields(body: AstBody, scope: Scope, mode: TargetMode, skip?: ReadonlySet<string>): void {
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
        return walkSelect(this, body, scope);
      case 'InsertStmt':
        return walkInsert(this, body, scope);
      case 'UpdateStmt':
      case 'DeleteStmt':
        return walkUpdateOrDelete(this, body, scope);
      case 'MergeStmt':
        return walkMerge(this, body, scope);
      case 'CopyStmt':
        return walkCopy(this, body, scope);
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
        return attributeColumnRef(this, body, scope);
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

// The walk of data-modifying statements (sql/walk.ts): INSERT, UPDATE, DELETE, MERGE and COPY,
// their target (written, and read where its rows or columns are), and the names their clauses see.
import { aliasName, bodyOf, list, str, stringList, type AstBody } from './ast.ts';
import type { TableRef } from './facts.ts';
import { Scope } from './scope.ts';
import type { StatementWalker } from './statement-walker.ts';
import { walkFromItem, walkWithClause } from './walk-query.ts';

const TARGET_LIST: ReadonlySet<string> = new Set(['targetList']);

/**
 * Records a DML target as written and returns the scope its columns are referred to in:
 * the target under its own name or alias, and PostgreSQL 18's `old`/`new` in RETURNING.
 */
function dmlTarget(w: StatementWalker, body: AstBody, outer: Scope, extraNames: readonly string[] = []): { refs: TableRef[]; q: Scope } {
  const q = new Scope(outer);
  const names = ['old', 'new', ...extraNames];
  const returning = bodyOf(body['returningClause'], 'ReturningClause');
  for (const o of returning === null ? [] : list(returning, 'options')) {
    const alias = bodyOf(o, 'ReturningOption')?.['value']; // RETURNING WITH (OLD AS o)
    if (typeof alias === 'string') names.push(alias);
  }
  const relation = bodyOf(body['relation'], 'RangeVar');
  const refs = w.target(relation, 'write');
  for (const r of refs) w.writeTargets.add(r.qualified);
  const first = refs[0];
  if (relation !== null && first !== undefined) {
    const alias = aliasName(relation);
    q.items.push({ name: alias ?? first.name, schema: alias === null ? str(relation, 'schemaname') : null, tables: refs });
    for (const n of names) q.items.push({ name: n, schema: null, tables: refs });
  }
  return { refs, q };
}

/** ResTarget names in INSERT column lists, UPDATE SET and MERGE actions are target columns. */
function targetColumns(w: StatementWalker, targets: readonly unknown[], refs: readonly TableRef[], q: Scope): void {
  for (const t of targets) {
    const rt = bodyOf(t, 'ResTarget');
    if (rt === null) continue;
    const name = str(rt, 'name');
    if (name !== null) for (const ref of refs) w.rec.column(ref, name);
    w.walk(rt['val'], q, 'read');
    w.walk(rt['indirection'], q, 'read');
  }
}

export function walkInsert(w: StatementWalker, body: AstBody, scope: Scope): void {
  const outer = walkWithClause(w, body['withClause'], scope);
  const { refs, q } = dmlTarget(w, body, outer, ['excluded']);
  const cols = list(body, 'cols');
  targetColumns(w, cols, refs, q);
  if (cols.length === 0) for (const ref of refs) w.rec.column(ref, '*'); // no list: every column is written
  w.walk(body['selectStmt'], outer, 'read');
  const conflict = bodyOf(body['onConflictClause'], 'OnConflictClause');
  if (conflict !== null) {
    for (const ref of refs) w.rec.table(ref, 'read');
    // ON CONFLICT (c): the arbiter compares the new row with stored values of c, a read of c.
    const infer = bodyOf(conflict['infer'], 'InferClause');
    for (const e of infer === null ? [] : list(infer, 'indexElems')) {
      const name = str(bodyOf(e, 'IndexElem') ?? {}, 'name');
      if (name !== null) for (const ref of refs) w.rec.column(ref, name);
    }
    targetColumns(w, list(conflict, 'targetList'), refs, q);
    w.walkFields(conflict, q, 'read', TARGET_LIST);
  }
  w.walk(body['returningClause'], q, 'read');
}

/** UPDATE (SET, FROM) and DELETE (USING) walk alike: a DELETE has no SET list, an UPDATE no USING. */
export function walkUpdateOrDelete(w: StatementWalker, body: AstBody, scope: Scope): void {
  const outer = walkWithClause(w, body['withClause'], scope);
  const { refs, q } = dmlTarget(w, body, outer);
  for (const ref of refs) w.rec.table(ref, 'read');
  for (const item of [...list(body, 'fromClause'), ...list(body, 'usingClause')]) walkFromItem(w, item, q, outer);
  targetColumns(w, list(body, 'targetList'), refs, q);
  w.walk(body['whereClause'], q, 'read');
  w.walk(body['returningClause'], q, 'read');
}

export function walkMerge(w: StatementWalker, body: AstBody, scope: Scope): void {
  const outer = walkWithClause(w, body['withClause'], scope);
  const { refs, q } = dmlTarget(w, body, outer);
  for (const ref of refs) w.rec.table(ref, 'read');
  walkFromItem(w, body['sourceRelation'], q, outer);
  w.walk(body['joinCondition'], q, 'read');
  for (const m of list(body, 'mergeWhenClauses')) {
    const when = bodyOf(m, 'MergeWhenClause');
    if (when === null) continue;
    targetColumns(w, list(when, 'targetList'), refs, q);
    w.walkFields(when, q, 'read', TARGET_LIST);
  }
  w.walk(body['returningClause'], q, 'read');
}

export function walkCopy(w: StatementWalker, body: AstBody, scope: Scope): void {
  const relation = bodyOf(body['relation'], 'RangeVar');
  if (relation !== null) {
    const refs = w.target(relation, body['is_from'] === true ? 'write' : 'read');
    const first = refs[0];
    if (first === undefined) return;
    const cols = stringList(list(body, 'attlist')) ?? [];
    for (const c of cols.length > 0 ? cols : ['*']) for (const ref of refs) w.rec.column(ref, c);
    const q = new Scope(scope);
    q.items.push({ name: first.name, schema: null, tables: refs });
    w.walk(body['whereClause'], q, 'read'); // COPY ... FROM ... WHERE
  }
  w.walk(body['query'], scope, 'read');
}

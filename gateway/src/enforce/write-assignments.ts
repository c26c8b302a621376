// Which columns of its target a write (INSERT, UPDATE, MERGE) assigns, from PostgreSQL's parse
// tree: an INSERT's column list or, without one, the leading columns its rows fill by position;
// UPDATE's and ON CONFLICT DO UPDATE's SET; MERGE's INSERT and UPDATE actions. A DELETE assigns none.

import { asNode, bodyOf, list, str, type AstBody } from '../sql/ast.ts';

/** The statement node types whose `relation` is the table they write. */
export type WriteKind = 'InsertStmt' | 'UpdateStmt' | 'DeleteStmt' | 'MergeStmt';

/** Every column of the target, when an INSERT without a column list fills an unknown number of them. */
export const ALL_COLUMNS = '*';

/**
 * The columns `write` assigns, by name; `columns` are the target's columns in order (for an INSERT
 * without a column list). Holds ALL_COLUMNS when the count cannot be told (INSERT ... SELECT *,
 * set operations): every column counts as assigned.
 */
export function assignedColumns(kind: WriteKind, write: AstBody, columns: readonly string[]): Set<string> {
  const out = new Set<string>();
  switch (kind) {
    case 'InsertStmt': {
      addNamed(out, list(write, 'cols'));
      if (out.size === 0) addLeading(out, insertedWidth(write['selectStmt']), columns);
      const conflict = bodyOf(write['onConflictClause'], 'OnConflictClause');
      if (conflict !== null && str(conflict, 'action') === 'ONCONFLICT_UPDATE') addNamed(out, list(conflict, 'targetList'));
      return out;
    }
    case 'UpdateStmt':
      addNamed(out, list(write, 'targetList'));
      return out;
    case 'MergeStmt':
      for (const w of list(write, 'mergeWhenClauses')) {
        const clause = bodyOf(w, 'MergeWhenClause');
        if (clause === null) continue;
        const targets = list(clause, 'targetList');
        switch (str(clause, 'commandType')) {
          case 'CMD_INSERT':
            if (targets.length > 0) addNamed(out, targets);
            else addLeading(out, rowWidth(list(clause, 'values')), columns);
            break;
          case 'CMD_UPDATE':
            addNamed(out, targets);
            break;
          default:
            break; // DELETE, DO NOTHING
        }
      }
      return out;
    case 'DeleteStmt':
      return out;
    default: {
      const never: never = kind;
      throw new Error(`unknown write ${String(never)}`);
    }
  }
}

/** Names of ResTargets (`SET c = ...`, `INSERT (c, ...)`; `SET c[1]`, `SET c.f` assign c). */
function addNamed(out: Set<string>, targets: readonly unknown[]): void {
  for (const t of targets) {
    const name = str(bodyOf(t, 'ResTarget') ?? {}, 'name');
    if (name !== null) out.add(name);
  }
}

function addLeading(out: Set<string>, width: number | null, columns: readonly string[]): void {
  if (width === null) {
    out.add(ALL_COLUMNS);
    return;
  }
  for (const c of columns.slice(0, width)) out.add(c);
}

/**
 * How many columns an INSERT's rows fill: the widest VALUES row, or a plain SELECT's target count;
 * 0 for DEFAULT VALUES; null when it cannot be told from the text (a star, `(row).*`, a set operation).
 */
function insertedWidth(select: unknown): number | null {
  if (select === undefined || select === null) return 0;
  const body = bodyOf(select, 'SelectStmt');
  if (body === null || (str(body, 'op') ?? 'SETOP_NONE') !== 'SETOP_NONE') return null;
  const rows = list(body, 'valuesLists');
  if (rows.length > 0) {
    const widths = rows.map((r) => rowWidth(list(asNode(r)?.body ?? {}, 'items')));
    return widths.some((w) => w === null) ? null : Math.max(...(widths as number[]));
  }
  return rowWidth(list(body, 'targetList').map((t) => bodyOf(t, 'ResTarget')?.['val']));
}

/** How many columns a row of expressions fills, or null when one of them expands (`*`, `t.*`, `(row).*`: R10-3). */
function rowWidth(items: readonly unknown[]): number | null {
  return items.some(expands) ? null : items.length;
}

function expands(item: unknown): boolean {
  const value = bodyOf(item, 'ResTarget')?.['val'] ?? item;
  const ref = bodyOf(value, 'ColumnRef');
  if (ref !== null) return list(ref, 'fields').some((f) => asNode(f)?.type === 'A_Star');
  const indirection = bodyOf(value, 'A_Indirection');
  return indirection !== null && list(indirection, 'indirection').some((f) => asNode(f)?.type === 'A_Star');
}

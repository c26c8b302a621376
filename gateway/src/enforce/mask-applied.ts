// Which masks a rewritten statement actually applies: of a masked table it reads, the masked columns
// whose values can reach its results, filters or sorts. Names only, no scoping (PostgreSQL resolves
// names in the rewritten text), so a column is counted whenever the statement could mean it: a
// name written anywhere, a star, a whole-row reference, a NATURAL or aliased join, renamed columns.
// Used for the audit record: `SELECT id FROM t` under a mask of t.ssn applies no mask.

import type { MaskStrategy } from '../policy/types.ts';
import { isObject, list, str, stringValue, type AstBody } from '../sql/ast.ts';
import type { ColumnUses, RelationRef } from '../sql/relation-refs.ts';

/** Column → strategy for one masked table (the strongest when several rules hit a column). */
export type TableMasks = ReadonlyMap<string, MaskStrategy>;

/** A mask applied to a statement: as in the audit record. */
export interface AppliedMask {
  table: string;
  column: string;
  strategy: MaskStrategy;
}

/** The masks of `table` (masks `masks`) that the statement applies through its reference `ref`. */
export function appliedThrough(ref: RelationRef, table: string, masks: TableMasks, uses: ColumnUses): AppliedMask[] {
  const all = [...masks].map(([column, strategy]) => ({ table, column, strategy }));
  if (ref.position === 'copy') {
    // COPY t TO copies every column; COPY t (a, b) TO those named.
    const named = list(ref.copy ?? {}, 'attlist').map(stringValue);
    return named.length === 0 ? all : all.filter((m) => named.includes(m.column));
  }
  const alias = isObject(ref.rangeVar['alias']) ? (ref.rangeVar['alias'] as AstBody) : null;
  const name = (alias === null ? null : str(alias, 'aliasname')) ?? str(ref.rangeVar, 'relname') ?? '';
  const renamed = alias !== null && list(alias, 'colnames').length > 0;
  if (renamed || uses.bareStar || uses.unnamedJoin || uses.starQualifiers.has(name) || uses.names.has(name)) return all;
  return all.filter((m) => uses.names.has(m.column));
}

/** Adds `more` to `into`, once per (table, column). */
export function mergeApplied(into: AppliedMask[], more: readonly AppliedMask[]): void {
  for (const m of more) if (!into.some((h) => h.table === m.table && h.column === m.column)) into.push(m);
}

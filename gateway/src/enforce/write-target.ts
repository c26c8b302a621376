// A write (INSERT, UPDATE, DELETE, MERGE) whose target is a masked table: the target cannot be
// replaced by a derived table, so PostgreSQL reads its raw values wherever the write reads the
// target's columns (WHERE, SET values, RETURNING, ON CONFLICT, MERGE conditions). Such a write is
// refused when it may read a masked column of its target; one that reads none runs, the target
// untouched (red-team round 5, R5-4). Names only, no scoping: a name that may denote a masked
// column of the target counts, whichever relation PostgreSQL would resolve it to.

import { aliasName, bodyOf, list, str, type AstBody } from '../sql/ast.ts';
import type { ColumnUses, RelationRef } from '../sql/relation-refs.ts';
import type { TableMasks } from './mask-applied.ts';

/** Names under which a write refers to its target's whole row besides its own name or alias. */
const ROW_NAMES = ['old', 'new', 'excluded'];

/**
 * The masked columns of the target that the write may read ("*" for every column, through a star
 * or a whole-row reference), in the masks' order; empty when it reads none.
 */
export function maskedTargetReads(ref: RelationRef, masks: TableMasks, uses: ColumnUses): string[] {
  const alias = aliasName(ref.rangeVar);
  const rowNames = new Set([alias ?? str(ref.rangeVar, 'relname') ?? '', ...ROW_NAMES, ...returningAliases(ref.write ?? null)]);
  if (uses.bareStar || [...rowNames].some((n) => uses.starQualifiers.has(n) || uses.names.has(n))) return ['*'];
  const inferred = inferenceColumns(ref.write ?? null);
  return [...masks.keys()].filter((c) => uses.names.has(c) || inferred.has(c));
}

/**
 * Whether the write names the system column `tableoid` while a mask applies to its target: it tells which
 * partition or child table holds each row the write reaches (in RETURNING, or through WHERE in its row
 * count), and so the partition key's values, masked ones included (red-team round 21d, R21d-1; the
 * derived table a read gets has no tableoid). Names only, as for the columns.
 */
export function readsTableoid(masks: TableMasks, uses: ColumnUses): boolean {
  return masks.size > 0 && uses.names.has('tableoid');
}

/** `RETURNING WITH (OLD AS o, NEW AS n)`: o and n (PostgreSQL 18). */
function returningAliases(write: AstBody | null): string[] {
  const returning = write === null ? null : bodyOf(write['returningClause'], 'ReturningClause');
  const out: string[] = [];
  for (const o of returning === null ? [] : list(returning, 'options')) {
    const alias = bodyOf(o, 'ReturningOption')?.['value'];
    if (typeof alias === 'string') out.push(alias);
  }
  return out;
}

/** `ON CONFLICT (c, ...)`: the arbiter compares stored values of c with the new row's. */
function inferenceColumns(write: AstBody | null): Set<string> {
  const conflict = write === null ? null : bodyOf(write['onConflictClause'], 'OnConflictClause');
  const infer = conflict === null ? null : bodyOf(conflict['infer'], 'InferClause');
  const out = new Set<string>();
  for (const e of infer === null ? [] : list(infer, 'indexElems')) {
    const name = str(bodyOf(e, 'IndexElem') ?? {}, 'name');
    if (name !== null) out.add(name);
  }
  return out;
}

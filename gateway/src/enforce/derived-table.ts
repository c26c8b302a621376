// The derived table that stands for one masked reference in the forwarded text (enforce/mask-rewrite.ts):
// the relation's columns in order and by name, each masked column computed by its strategy and each
// scanned one with its identifiers replaced. Where the reference reads partitions or inheritance children
// masked otherwise than the relation itself (reference-masks.ts), a column's expression is chosen per row
// by the table the row comes from (`tableoid`), so every row is masked as its own table's are (R21a-3).

import type { DetectRule } from '../policy/types.ts';
import { detectorsFor, type DetectorName } from './content-detectors.ts';
import { scannedExpression } from './detector-sql.ts';
import { maskedExpression, quoteIdent, SOURCE_ALIAS } from './mask-expressions.ts';
import type { ColumnMask, ReferenceMasks } from './reference-masks.ts';
import type { ColumnInfo, MaskFunctions, RelationInfo } from './relation-catalog.ts';

/**
 * `(SELECT ... FROM [ONLY] schema.name AS gatehouse_masked)` for `rel` under `masks`. `inherit`: the
 * reference reads partitions and children too. `functions`: what the database has of the C masks.
 */
export function derivedTable(rel: RelationInfo, masks: ReferenceMasks, inherit: boolean, detections: readonly DetectRule[] = [], functions: MaskFunctions = { hash: false }): string {
  const columns = rel.columns.map((c) => {
    const expression = columnExpression(c, masks, detections, functions);
    return expression === sourceColumn(c) ? expression : `${expression} AS ${quoteIdent(c.name)}`;
  });
  const only = inherit ? '' : 'ONLY ';
  return `(SELECT ${columns.join(', ')} FROM ${only}${quoteIdent(rel.schema)}.${quoteIdent(rel.name)} AS ${SOURCE_ALIAS})`;
}

function columnExpression(c: ColumnInfo, masks: ReferenceMasks, detections: readonly DetectRule[], functions: MaskFunctions): string {
  const unmasked = (): string => {
    const ref = sourceColumn(c);
    const detectors = [...new Set(masks.tables.flatMap((t) => detectorsFor(detections, t, c.name)))] as DetectorName[];
    return detectors.length === 0 ? ref : scannedExpression(c, ref, detectors);
  };
  const expression = (m: ColumnMask | undefined): string => (m === undefined ? unmasked() : maskedExpression(c, m.strategy, `${m.table}.${c.name}`, functions));
  const own = masks.own.get(c.name);
  // Members whose rows this column masks otherwise, grouped by mask.
  const branches = new Map<string, { mask: ColumnMask | undefined; oids: number[] }>();
  for (const member of masks.members) {
    const m = member.masks.get(c.name);
    if (m?.strategy === own?.strategy && m?.table === own?.table) continue;
    const key = m === undefined ? '' : `${m.strategy}\u0000${m.table}`;
    let branch = branches.get(key);
    if (!branch) branches.set(key, (branch = { mask: m, oids: [] }));
    branch.oids.push(member.oid);
  }
  if (branches.size === 0) return expression(own);
  // `hash` gives text whatever the column's type: every branch is text then, so CASE can unify them.
  const text = own?.strategy === 'hash' || [...branches.values()].some((b) => b.mask?.strategy === 'hash');
  const typed = (e: string): string => (text ? `CAST(${e} AS pg_catalog.text)` : e);
  const whens = [...branches.values()].map(
    (b) => `WHEN ${SOURCE_ALIAS}.tableoid OPERATOR(pg_catalog.=) ANY (CAST('{${b.oids.join(',')}}' AS pg_catalog.oid[])) THEN ${typed(expression(b.mask))}`,
  );
  return `CASE ${whens.join(' ')} ELSE ${typed(expression(own))} END`;
}

/** The column as the derived table reads it from the relation (named like it). */
function sourceColumn(c: ColumnInfo): string {
  return `${SOURCE_ALIAS}.${quoteIdent(c.name)}`;
}

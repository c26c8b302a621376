// Generated columns as derived copies (red-team round 21a, R21a-2): a generated column computed from a
// masked column (`digits GENERATED ALWAYS AS (replace(ssn, '-', '')) STORED`) holds the masked value in
// another form. So it is masked as its sources are (the strongest of their masks, or the policy's own
// mask on it when stronger), in reads through the mask rewrite and in what a write may read; and a write
// assigning a source assigns it (PostgreSQL recomputes it), so a unique index over it is an existence
// oracle on the source like one over the source itself (existence-oracles.ts, check-oracles.ts).

import { MASK_STRENGTH, type MaskStrategy } from '../policy/types.ts';
import type { TableMasks } from './mask-applied.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';

/**
 * The mask a derived copy takes from a source's. `last4` shows part of the value, and of a derived
 * value another part (`reverse(ssn)`, `substr(ssn, 1, 5)`): the copy is redacted instead. The other
 * strategies show nothing of the value (keyed pseudonyms, redaction, NULL), of a copy as of the source.
 */
function derivedStrategy(source: MaskStrategy): MaskStrategy {
  switch (source) {
    case 'last4':
      return 'redact';
    case 'fake_date':
    case 'fake_phone':
    case 'fake_email':
    case 'fake_ssn':
    case 'hash':
    case 'redact':
    case 'null':
      return source;
    default: {
      const never: never = source;
      throw new Error(`unknown mask strategy ${String(never)}`);
    }
  }
}

/** `masks` of `rel` with its generated columns over masked columns masked too (the same object when none is). */
export function withGeneratedMasks(rel: RelationInfo, masks: TableMasks): TableMasks {
  if (masks.size === 0) return masks;
  let out: Map<string, MaskStrategy> | null = null;
  for (const column of rel.columns) {
    if (column.generatedFrom === undefined) continue;
    let strongest = masks.get(column.name);
    for (const source of column.generatedFrom) {
      const held = masks.get(source);
      if (held === undefined) continue;
      const derived = derivedStrategy(held);
      if (strongest === undefined || MASK_STRENGTH[derived] > MASK_STRENGTH[strongest]) strongest = derived;
    }
    if (strongest === undefined || strongest === masks.get(column.name)) continue;
    (out ??= new Map(masks)).set(column.name, strongest);
  }
  return out ?? masks;
}

/** Every table's masks with its generated columns masked too (withGeneratedMasks; tables the catalog does not hold stay as they are). */
export function withGeneratedMasksOf(masks: Map<string, TableMasks>, relations: RelationCatalog): Map<string, TableMasks> {
  for (const [table, own] of masks) {
    const rel = relations.get(table);
    if (rel !== null) masks.set(table, withGeneratedMasks(rel, own));
  }
  return masks;
}

/**
 * `test` (is a column masked, is it assigned) extended to the generated columns of `rel`: true for one
 * when it holds for a column it is computed from. `test` itself when `rel` has no generated column.
 */
export function throughGenerated(rel: RelationInfo, test: (column: string) => boolean): (column: string) => boolean {
  const sources = new Map<string, readonly string[]>();
  for (const c of rel.columns) if (c.generatedFrom !== undefined && c.generatedFrom.length > 0) sources.set(c.name, c.generatedFrom);
  if (sources.size === 0) return test;
  return (column) => test(column) || (sources.get(column)?.some(test) ?? false);
}

/**
 * For the policy input (statement.columns): the columns the generated columns a statement names are
 * computed from, by table, for the tables where it names one; naming a copy reads its sources.
 */
export function generatedSourcesNamed(columns: Readonly<Record<string, readonly string[]>>, relations: RelationCatalog): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, names] of Object.entries(columns)) {
    const rel = relations.get(table);
    if (rel === null) continue;
    const named = new Set(names);
    const sources = rel.columns.flatMap((c) => (c.generatedFrom !== undefined && named.has(c.name) ? c.generatedFrom : []));
    if (sources.length > 0) out[table] = [...new Set(sources)];
  }
  return out;
}

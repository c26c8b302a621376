// Defence in depth behind masking at the source: once per RowDescription, finds result columns
// that come straight from a masked table column (table OID + attribute number). After the rewrite
// (enforce/mask-rewrite.ts) none should: masked columns are computed expressions, which carry no
// source. Any that does is withheld (NULL) on the way out rather than relayed raw.

import type { MaskRule } from '../policy/types.ts';
import type { RelationCatalog } from './relation-catalog.ts';

export interface ResultField {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
}

export interface MaskPlan {
  /** One entry per result column: true when its values are withheld. */
  columns: boolean[];
  /** Whether any column is withheld (when false, rows are forwarded byte for byte). */
  any: boolean;
}

/** Builds the plan from the relation snapshot; a column whose table is not in it is left alone. */
export function planMasks(fields: readonly ResultField[], masks: readonly MaskRule[], relations: RelationCatalog | null): MaskPlan {
  if (masks.length === 0 || relations === null) return { columns: fields.map(() => false), any: false };
  const masked = new Set(masks.map((m) => `${m.table}\u0000${m.column}`));
  const columns = fields.map((f) => {
    if (f.tableOid === 0 || f.columnAttr <= 0) return false;
    const rel = relations.byId(f.tableOid);
    if (rel === null) return false;
    const column = rel.columns.find((c) => c.attnum === f.columnAttr);
    if (column === undefined) return false;
    // A partition holds its parent's rows: the parent's masks apply to it as well.
    return [rel.qualified, ...rel.ancestors].some((t) => masked.has(`${t}\u0000${column.name}`));
  });
  return { columns, any: columns.some((c) => c) };
}

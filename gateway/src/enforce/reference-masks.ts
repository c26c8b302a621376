// The masks one reference to a relation applies, row by row. A reference reads the relation's own rows
// and, unless ONLY, those of its partitions and inheritance children (red-team round 21a, R21a-3: a parent
// read returned a masked child's rows raw). Each row is masked as its own table's rows are: by the masks of
// that table and of its ancestors, the strongest per column, keyed in the domain of the table whose rule
// chose it, so a row hashes the same whichever table of its family it is read through. Columns match by
// name (a child's attribute numbers differ from its parent's).

import type { MaskStrategy } from '../policy/types.ts';
import { MASK_STRENGTH } from '../policy/types.ts';
import type { TableMasks } from './mask-applied.ts';
import { withGeneratedMasks } from './generated-masks.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';

/** One column's mask for the rows of one table: the strategy, and the table whose rule chose it (the keyed masks' domain). */
export interface ColumnMask {
  strategy: MaskStrategy;
  table: string;
}

/** Column → mask, for the rows of one table. */
export type RowMasks = ReadonlyMap<string, ColumnMask>;

/** What one reference applies. */
export interface ReferenceMasks {
  /**
   * The rows of the relation itself, and of any partition or child the snapshot does not know yet
   * (created since: masked at least as the relation is, since its masks are their ancestor's).
   */
  own: RowMasks;
  /** Partitions and children (by table OID) whose rows are masked otherwise than `own`, on the relation's columns. */
  members: ReadonlyArray<{ oid: number; masks: RowMasks }>;
  /** Per column, the strongest strategy any row read gets: what a write through the reference is judged by. */
  strongest: TableMasks;
  /** The masks applied to some row, by the table of their rule: for the audit record and the needs of the strategies. */
  byTable: ReadonlyMap<string, TableMasks>;
  /** Tables of the rows' families under a mask or a content detection (the detections' tables). */
  tables: readonly string[];
}

/** The masks of the rows of `rel`: its own and its ancestors', the strongest per column (own first on a tie). */
export function rowMasks(rel: RelationInfo, masks: ReadonlyMap<string, TableMasks>): RowMasks {
  const out = new Map<string, ColumnMask>();
  for (const table of [rel.qualified, ...rel.ancestors]) {
    for (const [column, strategy] of masks.get(table) ?? []) {
      const held = out.get(column);
      if (held === undefined || MASK_STRENGTH[strategy] > MASK_STRENGTH[held.strategy]) out.set(column, { strategy, table });
    }
  }
  // Its generated columns over masked ones, also those a child adds over its parent's (R21a-2).
  const plain = new Map([...out].map(([column, m]) => [column, m.strategy]));
  const derived = withGeneratedMasks(rel, plain);
  if (derived !== plain) for (const [column, strategy] of derived) if (out.get(column)?.strategy !== strategy) out.set(column, { strategy, table: rel.qualified });
  return out;
}

/**
 * The masks a reference to `rel` applies, or null when none of the rows it reads is under a mask or a
 * content detection. `descendants`: the reference reads partitions' and children's rows too (no ONLY).
 * `masks`: the statement's masks by table (a table under detection only has an empty map).
 */
export function referenceMasks(rel: RelationInfo, masks: ReadonlyMap<string, TableMasks>, relations: RelationCatalog, descendants: boolean): ReferenceMasks | null {
  const tables = [rel.qualified, ...rel.ancestors].filter((t) => masks.has(t));
  // Masked tables of the members' families other than rel's own line (below rel, or another parent of a
  // member: multiple inheritance, R21e-1): only members that are, or descend from, one of them are masked otherwise.
  const below = new Set<string>();
  if (descendants) {
    for (const d of relations.descendants(rel.qualified)) {
      for (const t of [d.qualified, ...d.ancestors]) if (masks.has(t) && t !== rel.qualified && !rel.ancestors.includes(t)) below.add(t);
    }
  }
  if (tables.length === 0 && below.size === 0) return null;
  tables.push(...below);
  const own = rowMasks(rel, masks);
  const names = new Set(rel.columns.map((c) => c.name));
  const byTable = new Map<string, Map<string, MaskStrategy>>();
  const note = (m: RowMasks, only: ReadonlySet<string> | null): void => {
    for (const [column, { strategy, table }] of m) {
      if (only !== null && !only.has(column)) continue;
      let cols = byTable.get(table);
      if (!cols) byTable.set(table, (cols = new Map()));
      cols.set(column, strategy);
    }
  };
  note(own, null);
  const strongest = new Map<string, MaskStrategy>([...own].map(([c, m]) => [c, m.strategy]));
  const members: Array<{ oid: number; masks: RowMasks }> = [];
  if (below.size > 0) {
    for (const d of relations.descendants(rel.qualified)) {
      if (!below.has(d.qualified) && !d.ancestors.some((a) => below.has(a))) continue;
      const m = new Map([...rowMasks(d, masks)].filter(([c]) => names.has(c)));
      if (sameOn(m, own, names)) continue;
      members.push({ oid: d.oid, masks: m });
      note(m, names);
      for (const [column, { strategy }] of m) {
        const held = strongest.get(column);
        if (held === undefined || MASK_STRENGTH[strategy] > MASK_STRENGTH[held]) strongest.set(column, strategy);
      }
    }
  }
  return { own, members, strongest, byTable, tables };
}

function sameOn(a: RowMasks, b: RowMasks, columns: ReadonlySet<string>): boolean {
  for (const c of columns) {
    const x = a.get(c);
    const y = b.get(c);
    if (x?.strategy !== y?.strategy || x?.table !== y?.table) return false;
  }
  return true;
}

// Decides, once per RowDescription, which result columns are masked and how: a column's source
// is found through its table OID and attribute number and the catalog. Columns without a source
// (expressions, whole-row values) are masked when the statement references a masked column of
// a masked table in a way Gatehouse cannot trace (fail closed; full lineage is a later step).

import { MASK_STRENGTH, type MaskRule, type MaskStrategy } from '../policy/types.ts';
import type { CatalogResolver, RelationInfo } from '../pg/catalog.ts';
import { maskableAsString, type ColumnMask } from './mask-value.ts';

export interface ResultField {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
}

export interface MaskPlan {
  /** One entry per result column: how to mask it, or null to leave it. */
  columns: (ColumnMask | null)[];
  /** Whether any column is masked (when false, rows are forwarded byte for byte). */
  any: boolean;
}

export const NO_MASKS: MaskPlan = { columns: [], any: false };

/** What the statement(s) referenced, per qualified table, from the SQL facts. */
export type ReferencedColumns = Record<string, string[]>;

/** Strength order when several rules hit the same column: the one revealing least wins. */
const STRENGTH = MASK_STRENGTH;

function strongest(a: MaskStrategy | undefined, b: MaskStrategy): MaskStrategy {
  return a === undefined || STRENGTH[b] > STRENGTH[a] ? b : a;
}

/** Rules indexed by "schema.table" → column → strategy (the strongest when several hit a column). */
export function indexRules(masks: readonly MaskRule[]): Map<string, Map<string, MaskStrategy>> {
  const byTable = new Map<string, Map<string, MaskStrategy>>();
  for (const m of masks) {
    let cols = byTable.get(m.table);
    if (!cols) byTable.set(m.table, (cols = new Map()));
    cols.set(m.column, strongest(cols.get(m.column), m.strategy));
  }
  return byTable;
}

/**
 * Whether an untraceable (expression) column could carry a masked value: true when, for some
 * masked table, the statement references a masked column, a star, or a name that is not one of
 * the table's columns (a whole-row reference through the table or its alias).
 */
function expressionsMayCarryMasked(
  rules: Map<string, Map<string, MaskStrategy>>,
  referenced: ReferencedColumns,
  tableColumns: Map<string, Set<string> | null>,
): MaskStrategy | null {
  let result: MaskStrategy | null = null;
  for (const [table, cols] of rules) {
    const refs = referenced[table] ?? [];
    const real = tableColumns.get(table) ?? null;
    for (const ref of refs) {
      const risky = ref === '*' || cols.has(ref) || real === null || !real.has(ref);
      if (risky) {
        for (const s of cols.values()) result = strongest(result ?? undefined, s);
      }
    }
  }
  return result;
}

export interface MaskPlanInputs {
  fields: ResultField[];
  masks: MaskRule[];
  referenced: ReferencedColumns;
}

/** Tables whose catalog entries the plan needs (result sources and masked tables). */
export function catalogNeeds(inputs: MaskPlanInputs): { oids: number[]; tables: string[] } {
  const oids = [...new Set(inputs.fields.map((f) => f.tableOid).filter((o) => o !== 0))];
  const tables = [...new Set(inputs.masks.map((m) => m.table))];
  return { oids, tables };
}

/** Builds the plan from catalog facts already resolved. */
export function planMasks(
  inputs: MaskPlanInputs,
  relations: Map<number, RelationInfo | null>,
  maskedTableColumns: Map<string, Set<string> | null>,
): MaskPlan {
  if (inputs.masks.length === 0) return NO_MASKS;
  const rules = indexRules(inputs.masks);
  const exprStrategy = expressionsMayCarryMasked(rules, inputs.referenced, maskedTableColumns);
  const columns: (ColumnMask | null)[] = inputs.fields.map((f) => {
    let strategy: MaskStrategy | null = null;
    if (f.tableOid === 0 || f.columnAttr <= 0) {
      strategy = exprStrategy;
    } else {
      const rel = relations.get(f.tableOid) ?? null;
      const column = rel?.columns.get(f.columnAttr);
      if (rel && column !== undefined) strategy = rules.get(rel.qualified)?.get(column) ?? null;
    }
    return strategy === null ? null : { strategy, asString: maskableAsString(f.typeOid) };
  });
  return { columns, any: columns.some((c) => c !== null) };
}

/** Resolves what the plan needs from the catalog, then builds it. */
export async function resolveMaskPlan(inputs: MaskPlanInputs, catalog: CatalogResolver): Promise<MaskPlan> {
  if (inputs.masks.length === 0) return NO_MASKS;
  const needs = catalogNeeds(inputs);
  const relations = await catalog.resolve(needs.oids);
  const maskedTableColumns = new Map<string, Set<string> | null>();
  for (const table of needs.tables) {
    const oid = await catalog.oidOf(table);
    if (oid === null) {
      maskedTableColumns.set(table, null);
      continue;
    }
    const rel = (await catalog.resolve([oid])).get(oid) ?? null;
    maskedTableColumns.set(table, rel ? new Set(rel.columns.values()) : null);
  }
  return planMasks(inputs, relations, maskedTableColumns);
}

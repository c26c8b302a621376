// Name scopes of a query: CTE names visible at a point, and FROM items (aliases → base tables).
import type { TableRef } from './facts.ts';

/** One FROM item as seen by column references: its visible name and the base tables behind it. */
export interface FromItem {
  /** Alias, or the relation name when there is no alias; null for unaliased joins. */
  name: string | null;
  /** Schema when the item is a schema-qualified relation without alias (for `schema.t.col`). */
  schema: string | null;
  /**
   * Base tables behind the name: one for a table (one per candidate schema for an unqualified name,
   * see table-ref.ts), none for a subquery/CTE/function, all for an aliased join.
   */
  tables: TableRef[];
}

/** A level of name visibility; a query level has FROM items, a WITH level has CTE names. */
export class Scope {
  readonly items: FromItem[] = [];
  readonly ctes = new Set<string>();

  constructor(readonly parent: Scope | null) {}

  /** Whether an unqualified relation name refers to a CTE visible here. */
  isCte(name: string): boolean {
    for (let s: Scope | null = this; s !== null; s = s.parent) if (s.ctes.has(name)) return true;
    return false;
  }

  /** The innermost FROM item called `name` (and in `schema`, when given), searching outwards. */
  findItem(name: string, schema: string | null): FromItem | null {
    for (let s: Scope | null = this; s !== null; s = s.parent) {
      for (const item of s.items) {
        if (item.name !== name) continue;
        if (schema !== null && item.schema !== schema && !item.tables.some((t) => t.schema === schema)) continue;
        return item;
      }
    }
    return null;
  }

  /** Base tables of the innermost level that has FROM items (what `*` expands to). */
  innermostTables(): TableRef[] {
    for (let s: Scope | null = this; s !== null; s = s.parent) {
      if (s.items.length > 0) return s.items.flatMap((i) => i.tables);
    }
    return [];
  }

  /** Every base table visible from here, this level and the enclosing ones. */
  visibleTables(): TableRef[] {
    const out: TableRef[] = [];
    for (let s: Scope | null = this; s !== null; s = s.parent) for (const i of s.items) out.push(...i.tables);
    return out;
  }
}

// What a query level can see while column uses are extracted (sql/column-uses.ts): the base
// table columns behind each name, through aliases, column aliases, subqueries, CTEs and set
// operations. Resolution follows sql/scope.ts (innermost level first, outer levels for correlated
// references) and, like it, errs towards listing more columns when the catalog would be needed.
import type { TableRef } from './facts.ts';

/** A base table column a value may carry; `column` "*" stands for any column of the table. */
export interface CarriedColumn {
  table: string;
  column: string;
  /** The value is exactly this column (a plain reference), not an expression computed from it. */
  plain: boolean;
}

/** The base table columns an expression may carry, de-duplicated; a column is plain only if every path to it is. */
export class Carried {
  private readonly byKey = new Map<string, CarriedColumn>();

  static of(...columns: CarriedColumn[]): Carried {
    const c = new Carried();
    for (const col of columns) c.add(col);
    return c;
  }

  add(col: CarriedColumn): this {
    const key = `${col.table}\u0000${col.column}`;
    const seen = this.byKey.get(key);
    this.byKey.set(key, seen === undefined ? { ...col } : { ...seen, plain: seen.plain && col.plain });
    return this;
  }

  addAll(other: Carried | null): this {
    if (other !== null) for (const c of other.values()) this.add(c);
    return this;
  }

  values(): CarriedColumn[] {
    return [...this.byKey.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The same columns, none plain: what an expression computed from them carries. */
  computed(): Carried {
    const c = new Carried();
    for (const col of this.byKey.values()) c.add({ ...col, plain: false });
    return c;
  }
}

/**
 * The value of one of several alternatives (set-operation arms, VALUES rows, the candidates for a
 * name): their columns together, plain only if every alternative is exactly a plain column. An
 * alternative carrying no column (a literal, a parameter) or a computed one makes all of them
 * computed: `SELECT q.mrn ... UNION ALL SELECT 'guess'` may be the guess, not an mrn. A null
 * alternative is not a candidate at all.
 */
export function either(alternatives: readonly (Carried | null)[]): Carried {
  const c = new Carried();
  let exact = true;
  for (const a of alternatives) {
    if (a === null) continue;
    if (a.size === 0 || a.values().some((col) => !col.plain)) exact = false;
    c.addAll(a);
  }
  return exact ? c : c.computed();
}

/**
 * One output column of a query level, as the enclosing query sees it: a named (or unnamed)
 * expression; `*` over a base table (its names are that table's columns, unknown without the
 * catalog); or an entry whose names are unknown (a star renamed by column aliases, a function's
 * result), which any name may refer to.
 */
export type OutputColumn =
  | { kind: 'named'; name: string | null; carried: Carried }
  | { kind: 'star'; table: TableRef }
  | { kind: 'opaque'; carried: Carried };

/** The output columns of a query level, in order. */
export type Lineage = OutputColumn[];

/** Everything a lineage may carry, as computed values ("*" for a star's table). */
export function wholeOf(lineage: Lineage): Carried {
  const c = new Carried();
  for (const e of lineage) {
    if (e.kind === 'star') c.add({ table: e.table.qualified, column: '*', plain: false });
    else c.addAll(e.carried.computed());
  }
  return c;
}

/** What output column(s) named `name` carry; null when no entry can have that name. */
export function byName(lineage: Lineage, name: string): Carried | null {
  const found: Carried[] = [];
  for (const e of lineage) {
    if (e.kind === 'named' && e.name !== name) continue;
    if (e.kind === 'star') found.push(Carried.of({ table: e.table.qualified, column: name, plain: true }));
    else if (e.kind === 'named') found.push(e.carried);
    else found.push(e.carried.computed());
  }
  return found.length === 0 ? null : either(found);
}

/** What output column number `position` (1-based, as in ORDER BY 2) carries. */
export function byPosition(lineage: Lineage, position: number): Carried {
  for (let i = 0; i < lineage.length && i < position; i++) {
    if (lineage[i]?.kind !== 'named') return wholeOf(lineage); // a star before it: positions unknown
  }
  const e = lineage[position - 1];
  return e?.kind === 'named' ? new Carried().addAll(e.carried) : wholeOf(lineage);
}

/** The lineage seen through column aliases `AS x(a, b, ...)`: names replaced by position. */
export function renamed(lineage: Lineage, names: readonly string[]): Lineage {
  if (names.length === 0) return lineage;
  const out: Lineage = [];
  for (let i = 0; i < lineage.length; i++) {
    const e = lineage[i]!;
    if (e.kind !== 'named') return [...out, { kind: 'opaque', carried: wholeOf(lineage.slice(i)) }];
    out.push(i < names.length ? { ...e, name: names[i]! } : e);
  }
  return out;
}

/** Output columns of a set operation: position by position when both arms are fully named; see either(). */
export function mergedArms(left: Lineage, right: Lineage): Lineage {
  const named = (l: Lineage): boolean => l.every((e) => e.kind === 'named');
  if (!named(left) || !named(right) || left.length !== right.length) {
    return [{ kind: 'opaque', carried: wholeOf(left).addAll(wholeOf(right)) }];
  }
  return left.map((e, i) => {
    const r = right[i]!;
    const carried = either([e.kind === 'named' ? e.carried : null, r.kind === 'named' ? r.carried : null]);
    return { kind: 'named', name: e.kind === 'named' ? e.name : null, carried };
  });
}

/** Where the values behind one FROM item come from. */
export type Source =
  | { kind: 'table'; table: TableRef; aliases: readonly string[] }
  | { kind: 'derived'; lineage: Lineage };

/** One FROM item: its visible name and the sources behind it (several for an aliased join). */
export interface Item {
  name: string | null;
  /** Schema when the item is a schema-qualified relation without alias (for `schema.t.col`). */
  schema: string | null;
  sources: Source[];
}

/**
 * Column `name` of a source; null when a derived source has no such column. A name that is one
 * of a table's column aliases stands for an unknown column of the table ("*").
 */
export function sourceColumn(source: Source, name: string): Carried | null {
  if (source.kind === 'derived') return byName(source.lineage, name);
  const t = source.table.qualified;
  return Carried.of(source.aliases.includes(name) ? { table: t, column: '*', plain: false } : { table: t, column: name, plain: true });
}

/** Column `name` of an item (`alias.name`); every column when no source has that name. */
export function itemColumn(item: Item, name: string): Carried {
  const hits = item.sources.map((s) => sourceColumn(s, name));
  return hits.some((h) => h !== null) ? either(hits) : wholeItem(item);
}

/** A whole-row reference to an item (`SELECT p FROM patients p`). */
export function wholeItem(item: Item): Carried {
  const c = new Carried();
  for (const s of item.sources) {
    if (s.kind === 'table') c.add({ table: s.table.qualified, column: '*', plain: false });
    else c.addAll(wholeOf(s.lineage));
  }
  return c;
}

/** What `item.*` expands to in a target list. */
export function starOf(item: Item): Lineage {
  const out: Lineage = [];
  for (const s of item.sources) {
    if (s.kind === 'derived') out.push(...s.lineage);
    else if (s.aliases.length > 0) out.push({ kind: 'opaque', carried: Carried.of({ table: s.table.qualified, column: '*', plain: false }) });
    else out.push({ kind: 'star', table: s.table });
  }
  return out;
}

/** A level of name visibility: a query level has FROM items, a WITH level has CTEs. */
export class Level {
  readonly items: Item[] = [];
  readonly ctes = new Map<string, Lineage>();

  constructor(readonly parent: Level | null) {}

  /** The lineage of the CTE an unqualified relation name refers to, or null. */
  cte(name: string): Lineage | null {
    for (let l: Level | null = this; l !== null; l = l.parent) {
      const hit = l.ctes.get(name);
      if (hit !== undefined) return hit;
    }
    return null;
  }

  /** The innermost FROM item called `name` (and in `schema`, when given), searching outwards. */
  findItem(name: string, schema: string | null): Item | null {
    for (let l: Level | null = this; l !== null; l = l.parent) {
      for (const item of l.items) {
        if (item.name !== name) continue;
        if (schema !== null && item.schema !== schema && !item.sources.some((s) => s.kind === 'table' && s.table.schema === schema)) continue;
        return item;
      }
    }
    return null;
  }

  /** Items of the innermost level that has any (what an unqualified `*` expands to). */
  innermostItems(): Item[] {
    for (let l: Level | null = this; l !== null; l = l.parent) if (l.items.length > 0) return l.items;
    return [];
  }

  /**
   * An unqualified column name: a whole-row reference when it names an item, and otherwise a
   * column of any visible item that may have it (every table, since their columns are not known
   * here; derived items only when one of their output columns can have that name).
   */
  unqualified(name: string): Carried {
    const whole = this.findItem(name, null);
    return either([...this.candidates(name), whole === null ? null : wholeItem(whole)]);
  }

  /** Columns called `name` of any visible item that may have one (any of them: see either()). */
  columnsNamed(name: string): Carried {
    return either(this.candidates(name));
  }

  private candidates(name: string): (Carried | null)[] {
    const out: (Carried | null)[] = [];
    for (let l: Level | null = this; l !== null; l = l.parent) {
      for (const item of l.items) for (const s of item.sources) out.push(sourceColumn(s, name));
    }
    return out;
  }
}

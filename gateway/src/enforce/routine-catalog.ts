// What Gatehouse knows about the database's functions, operators and types, to tell whether a
// statement under a mask calls something that could read a table itself (enforce/mask-routines.ts).
// A snapshot from the server's catalog (pg/routine-snapshot.ts), read synchronously at decisions.

/** A routine name as written: schema null when unqualified. */
export interface RoutineName {
  schema: string | null;
  name: string;
}

export type RoutineKind = 'function' | 'operator' | 'type';

/** One (kind, schema, name), all overloads together, as the snapshot query returns it. */
export interface RoutineRow {
  kind: RoutineKind;
  schema: string;
  name: string;
  /** No overload can read a table by itself (built in, or C/internal: see pg/routine-snapshot.ts). */
  harmless: boolean;
  /** Some overload returns a set (functions only). */
  retset: boolean;
}

/** Whether a routine may run: `unknown` when the snapshot has no routine of that name. */
export type RoutineVerdict = 'harmless' | 'harmful' | 'unknown';

interface Entry {
  schema: string;
  harmless: boolean;
  retset: boolean;
}

export class RoutineCatalog {
  private readonly byKind: Record<RoutineKind, Map<string, Entry[]>> = { function: new Map(), operator: new Map(), type: new Map() };
  private readonly harmful: Record<RoutineKind, boolean> = { function: false, operator: false, type: false };

  constructor(rows: readonly RoutineRow[], readonly loadedAt: number = Date.now()) {
    for (const r of rows) {
      const names = this.byKind[r.kind];
      let entries = names.get(r.name);
      if (entries === undefined) names.set(r.name, (entries = []));
      entries.push({ schema: r.schema, harmless: r.harmless, retset: r.retset });
      if (!r.harmless) this.harmful[r.kind] = true;
    }
  }

  /**
   * The routines a name as written may resolve to: those of its schema when qualified, otherwise
   * those of that name in EVERY schema. PostgreSQL searches only the session's path (pg_catalog
   * first unless placed later), but an overload in a later schema can still win when its argument
   * types match better, so every same-named routine that could be on the path is taken.
   */
  private candidates(kind: RoutineKind, r: RoutineName): Entry[] {
    const all = this.byKind[kind].get(r.name) ?? [];
    return r.schema === null ? all : all.filter((e) => e.schema === r.schema);
  }

  /** Whether any routine of this kind is not harmless (user operators and types are rare). */
  anyHarmful(kind: RoutineKind): boolean {
    return this.harmful[kind];
  }

  verdict(kind: RoutineKind, r: RoutineName): RoutineVerdict {
    const c = this.candidates(kind, r);
    if (c.length === 0) return 'unknown';
    return c.every((e) => e.harmless) ? 'harmless' : 'harmful';
  }
}

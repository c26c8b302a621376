// What Gatehouse knows about the database's functions, operators and types, to tell whether a
// statement under a mask may call something with side effects (enforce/mask-side-channels.ts).
// A snapshot from the server's catalog (pg/routine-snapshot.ts), read synchronously at decisions.

import type { RoutineName } from '../sql/column-uses.ts';

export type RoutineKind = 'function' | 'operator' | 'type';

/** One (kind, schema, name), all overloads together, as the snapshot query returns it. */
export interface RoutineRow {
  kind: RoutineKind;
  schema: string;
  name: string;
  /** Every overload is known to have no side effects (see HARMLESS in pg/routine-snapshot.ts). */
  harmless: boolean;
  /** Some overload returns a set (functions only). */
  retset: boolean;
}

/**
 * Volatile pg_catalog functions that have no side effect a statement could carry a value out
 * through: randomness and clocks, and read-only sizes and states. `setseed`, `nextval`, `setval`,
 * `set_config`, `pg_notify`, `pg_sleep`, advisory locks, large objects, `query_to_xml` and the
 * rest stay refused while a mask applies.
 */
export const HARMLESS_VOLATILE_BUILTINS: readonly string[] = Object.freeze([
  'random',
  'random_normal',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'currval',
  'lastval',
  'pg_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_total_relation_size',
  'pg_database_size',
  'pg_tablespace_size',
  'pg_is_in_recovery',
  'pg_jit_available',
]);

/** Whether a routine may run: `unknown` when the snapshot has no routine of that name. */
export type RoutineVerdict = 'harmless' | 'harmful' | 'unknown';

interface Entry {
  schema: string;
  harmless: boolean;
  retset: boolean;
}

export class RoutineCatalog {
  private readonly byKind: Record<RoutineKind, Map<string, Entry[]>> = { function: new Map(), operator: new Map(), type: new Map() };

  constructor(rows: readonly RoutineRow[], readonly loadedAt: number = Date.now()) {
    for (const r of rows) {
      const names = this.byKind[r.kind];
      let entries = names.get(r.name);
      if (entries === undefined) names.set(r.name, (entries = []));
      entries.push({ schema: r.schema, harmless: r.harmless, retset: r.retset });
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

  verdict(kind: RoutineKind, r: RoutineName): RoutineVerdict {
    const c = this.candidates(kind, r);
    if (c.length === 0) return 'unknown';
    return c.every((e) => e.harmless) ? 'harmless' : 'harmful';
  }

  /** Whether a call of this name may return a set (and so decide how many rows come back). */
  returnsSet(r: RoutineName): boolean {
    return this.candidates('function', r).some((e) => e.retset);
  }
}

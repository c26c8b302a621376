// Which relation names exist in the system schemas (pg_catalog, information_schema), so that an
// unqualified name is resolved the way PostgreSQL does: a system schema where the name does not
// exist is skipped, and one where it exists ends the search (see table-ref.ts).
import { BUILTIN_SYSTEM_RELATIONS } from './system-relations-builtin.ts';

/** The schemas whose relations are fixed: only a superuser can add to them. */
export const SYSTEM_SCHEMAS: readonly string[] = Object.freeze(['pg_catalog', 'information_schema']);

/** What is known about a name in a schema: it is there, it is not, or nobody knows (user schemas). */
export type Presence = 'present' | 'absent' | 'unknown';

/** One `(schema, relation name)` row, as read from pg_class. */
export interface SystemRelationRow {
  schema: string;
  name: string;
}

/** The relation names of the system schemas of one server (every relkind: tables, views, indexes, ...). */
export class SystemRelations {
  private constructor(
    /** Where the list came from, for logs and for the analyze cache key. */
    readonly source: string,
    private readonly bySchema: ReadonlyMap<string, ReadonlySet<string>> | null,
  ) {}

  /** The lists read from a server's pg_class. A system schema with no rows is known to be empty. */
  static fromRows(source: string, rows: readonly SystemRelationRow[]): SystemRelations {
    const bySchema = new Map<string, Set<string>>(SYSTEM_SCHEMAS.map((s) => [s, new Set<string>()]));
    for (const r of rows) bySchema.get(r.schema)?.add(r.name);
    return new SystemRelations(source, bySchema);
  }

  /**
   * Nothing known: every system schema is a candidate and none ends the search. The safe fallback
   * when the server's lists cannot be read (names resolve to more tables, so policies deny more).
   */
  static unknown(): SystemRelations {
    return new SystemRelations('unknown', null);
  }

  /** Whether `name` exists in `schema`; 'unknown' for every schema but the system ones. */
  lookup(schema: string, name: string): Presence {
    const names = this.bySchema?.get(schema);
    if (names === undefined) return 'unknown';
    return names.has(name) ? 'present' : 'absent';
  }

  /** The number of names known (0 when unknown). */
  get size(): number {
    let n = 0;
    for (const names of this.bySchema?.values() ?? []) n += names.size;
    return n;
  }

  /** The rows, sorted, for comparing two lists. */
  rows(): SystemRelationRow[] {
    const out: SystemRelationRow[] = [];
    for (const [schema, names] of this.bySchema ?? []) for (const name of names) out.push({ schema, name });
    return out.sort((a, b) => (a.schema === b.schema ? cmp(a.name, b.name) : cmp(a.schema, b.schema)));
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The list shipped with Gatehouse (one PostgreSQL version), for analysis without a server. */
export const BUILTIN: SystemRelations = SystemRelations.fromRows(
  `builtin PostgreSQL ${BUILTIN_SYSTEM_RELATIONS.version}`,
  Object.entries(BUILTIN_SYSTEM_RELATIONS.relations).flatMap(([schema, names]) => names.map((name) => ({ schema, name }))),
);

let active: SystemRelations = BUILTIN;

/**
 * The lists unqualified names are resolved with. The built-in list until a gateway installs its
 * server's (pg/system-relations-loader.ts): Gatehouse has one upstream server per process, and the
 * system schemas are the same in all its databases.
 */
export function activeSystemRelations(): SystemRelations {
  return active;
}

/** Installs the lists to resolve with. Callers must clear the analyze cache (facts depend on them). */
export function installSystemRelations(relations: SystemRelations): void {
  active = relations;
}

// Which user functions Gatehouse's upstream role could replace or alter, read with the relation snapshot
// (issue 6; red-team rounds 18b R18b-3 and 19b R19b-2). CREATE OR REPLACE FUNCTION and ALTER FUNCTION
// (RENAME, SET SCHEMA, SET, SECURITY DEFINER, OWNER TO) take no lock a write meets, so a write under a
// mask that fires such a function can run a body put there while it waits for a row. Gatehouse alone holds
// the upstream credentials: the roles an agent can act as are the upstream role and those it can become.
// PostgreSQL answers who may: the owner of the function, any member of the owner (pg_has_role MEMBER: SET
// ROLE reaches it, inherited or not), and a superuser, or a member of one. Both session_user (the login
// role) and current_user (a role the connection was set to) count: RESET ROLE goes back to the first.
// What a write runs includes what those functions' definitions bind (SQL-standard bodies, argument
// defaults: pg_depend), and, when the role can define code a body might call by name or temporary types
// and tables such a body would find first, every function run whose body resolves names when it runs
// (pg/by-name-reach.ts; ownrole20b, R20c-3).

import { byNameEntry, tempTypesEntry } from '../enforce/replaceable-functions.ts';
import type { ByNameReach } from './by-name-reach.ts';

/** User functions ("schema.name"; overloads share a name: any one replaceable counts for all) the upstream role could replace. */
export const REPLACEABLE_FUNCTIONS = `WITH me AS MATERIALIZED (
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles s
                  WHERE s.rolsuper AND (pg_catalog.pg_has_role(session_user, s.oid, 'MEMBER') OR pg_catalog.pg_has_role(current_user, s.oid, 'MEMBER'))) AS superuser
)
SELECT DISTINCT n.nspname AS schema, p.proname AS name
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace, me
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
   AND (me.superuser OR pg_catalog.pg_has_role(session_user, p.proowner, 'MEMBER') OR pg_catalog.pg_has_role(current_user, p.proowner, 'MEMBER'))
 ORDER BY 1, 2`;

export interface ReplaceableFunctionRow {
  schema: string;
  name: string;
}

/** The set of "schema.name" of the rows. */
export function replaceableSet(rows: readonly ReplaceableFunctionRow[]): Set<string> {
  return new Set(rows.map((r) => `${r.schema}.${r.name}`));
}

const NO_REACH: ByNameReach = { canDefine: null, tempTypes: null, byName: new Set(), binds: new Map() };

/**
 * The functions a write to each relation runs that the upstream role could replace: its triggers'
 * functions, the functions their WHEN conditions call, and those its defaults, generated columns, CHECK
 * constraints, index expressions and domains call (`calls`, pg/relation-write-calls.ts), and what their
 * definitions bind (`reach.binds`, transitively), keyed by its oid. When the role can define code a body
 * might call by name (`reach.canDefine`), or temporary types and tables such a body would find first
 * (`reach.tempTypes`; R20c-3), each of those functions whose body resolves names when it runs is listed
 * too, as an entry saying why (enforce/replaceable-functions.ts byNameEntry, tempTypesEntry).
 */
export function replaceableByRelation(
  replaceable: ReadonlySet<string>,
  triggers: ReadonlyMap<number, ReadonlyArray<{ function: string }>>,
  calls: ReadonlyArray<ReadonlyMap<number, readonly string[]>>,
  reach: ByNameReach = NO_REACH,
): Map<number, string[]> {
  const out = new Map<number, string[]>();
  if (replaceable.size === 0 && reach.canDefine === null && reach.tempTypes === null) return out;
  const runs = new Map<number, Set<string>>();
  const add = (rel: number, f: string): void => {
    const set = runs.get(rel);
    if (set === undefined) runs.set(rel, new Set([f]));
    else set.add(f);
  };
  for (const [rel, list] of triggers) for (const t of list) add(rel, t.function);
  for (const m of calls) for (const [rel, list] of m) for (const f of list) add(rel, f);
  for (const [rel, direct] of runs) {
    const found: string[] = [];
    for (const f of bound(direct, reach.binds)) {
      if (replaceable.has(f)) found.push(f);
      if (reach.canDefine !== null && reach.byName.has(f)) found.push(byNameEntry(f, reach.canDefine));
      if (reach.tempTypes !== null && reach.byName.has(f)) found.push(tempTypesEntry(f, reach.tempTypes));
    }
    if (found.length > 0) out.set(rel, [...new Set(found)].sort());
  }
  return out;
}

/** `start` and every function their definitions bind, transitively. */
function bound(start: ReadonlySet<string>, binds: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set(start);
  const stack = [...start];
  while (stack.length > 0) {
    for (const g of binds.get(stack.pop()!) ?? []) {
      if (!seen.has(g)) {
        seen.add(g);
        stack.push(g);
      }
    }
  }
  return seen;
}

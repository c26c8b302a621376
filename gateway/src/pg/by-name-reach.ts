// What a function body may reach beyond what the catalog binds, read with the relation snapshot (issue 6,
// ownrole20b). A PL body (plpgsql, plperl, ...) and an SQL function with a string body resolve the names
// they call when they run: PostgreSQL records no dependency on them, so which function a trigger's body
// calls by name cannot be read from the catalog. Whoever can define a function there may put code in its
// way: the owner of an existing one (CREATE OR REPLACE, ALTER ... RENAME, SET SCHEMA), and any role with
// CREATE on a schema such a body searches (a new function, or an overload of a closer match). PostgreSQL
// never searches the temporary schema for functions or operators unless it is named (PostgreSQL 15
// manual, "search_path": "the temporary schema is only searched for relation and data type names. It is
// never searched for function or operator names"), so only real schemas count for those. But it searches
// it for type and relation names, FIRST unless the path lists it (red-team round 20c, R20c-3): a domain
// `pg_temp.text` whose CHECK runs the writer's code, or a temporary table named `text` (its row type),
// takes the place of pg_catalog.text in a body whose path does not list pg_temp, and such a body may be
// one a reviewed trigger calls by name. So a role that may create temporary objects in the database
// (TEMPORARY, which PUBLIC has by default) counts too, unless every body that resolves names when it runs
// sets its own search_path with pg_temp last (a body without one takes its caller's, which may be the
// writer's session). SQL-standard bodies (BEGIN ATOMIC) and argument defaults are bound when defined:
// pg_depend lists what they call, followed here as edges. Roles, as in pg/replaceable-functions.ts:
// session_user, current_user and every role either can become (pg_has_role MEMBER; a superuser among
// them may create anywhere).

import { MASK_OWNER_ROLE } from '../db/mask-functions.ts';
import { pathPinned } from './relation-triggers.ts';

/** A function whose body resolves names when it runs: any language but C and internal, except an SQL-standard body. */
const RESOLVES_WHEN_RUN = `l.lanname NOT IN ('c', 'internal') AND p.prosqlbody IS NULL`;

/**
 * Gatehouse's own functions (`gatehouse db setup`: schema gatehouse, they and it owned by the mask owner
 * or a superuser, as pg/mask-function-query.ts counts them) set no search_path (a configuration change on
 * every masked value) and qualify every name instead: they are not counted as unpinned.
 */
const GATEHOUSE_OWN = `(n.nspname = 'gatehouse'
        AND p.proowner IN (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = '${MASK_OWNER_ROLE}' OR r.rolsuper)
        AND n.nspowner IN (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = '${MASK_OWNER_ROLE}' OR r.rolsuper))`;

/**
 * One row: `canDefine`, why the upstream role can define code a body might call by name (null: it
 * cannot); `tempTypes`, why it can put temporary types and relations in the way of such a body (null:
 * it cannot create temporary objects, or every such body sets its search_path with pg_temp last);
 * `byName`, the user functions whose bodies resolve names when they run (listed only when either says
 * why); `edges`, [caller, callee] for the user functions a user function's definition binds. Functions
 * that belong to an extension are not counted as owned (their code comes from the server's files), but
 * are counted as unpinned (they take their caller's path like any other).
 */
export const BY_NAME_REACH = `WITH me AS MATERIALIZED (
  SELECT r.oid FROM pg_catalog.pg_roles r
   WHERE pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') OR pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
), real AS MATERIALIZED (
  SELECT n.oid, n.nspname, n.nspowner FROM pg_catalog.pg_namespace n
   WHERE n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
), why AS MATERIALIZED (
  SELECT pg_catalog.concat_ws(' and ',
    (SELECT 'owns ' || s.nspname || '.' || p.proname
       FROM pg_catalog.pg_proc p JOIN real s ON s.oid = p.pronamespace
      WHERE p.proowner IN (SELECT oid FROM me) AND s.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1 LIMIT 1),
    (SELECT 'can create functions in schema ' || s.nspname
       FROM real s
      WHERE EXISTS (SELECT 1 FROM me WHERE pg_catalog.has_schema_privilege(me.oid, s.oid, 'CREATE'))
      ORDER BY 1 LIMIT 1)) AS reason
), temp_types AS MATERIALIZED (
  SELECT 'can create temporary objects in database ' || pg_catalog.quote_ident(pg_catalog.current_database())
         || ', and ' || u.fn || ' does not set a search_path ending in pg_temp' AS reason
    FROM (SELECT (SELECT n.nspname || '.' || p.proname
                    FROM pg_catalog.pg_proc p
                    JOIN real n ON n.oid = p.pronamespace
                    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                     AND ${RESOLVES_WHEN_RUN} AND NOT ${pathPinned('p', 'l')} AND NOT ${GATEHOUSE_OWN}
                   ORDER BY 1 LIMIT 1) AS fn
           -- Asked first: without the privilege the functions are not looked at.
           WHERE EXISTS (SELECT 1 FROM me WHERE pg_catalog.has_database_privilege(me.oid, pg_catalog.current_database(), 'TEMPORARY'))) u
   WHERE u.fn IS NOT NULL
)
SELECT nullif(why.reason, '') AS "canDefine", (SELECT reason FROM temp_types) AS "tempTypes",
  CASE WHEN why.reason = '' AND NOT EXISTS (SELECT 1 FROM temp_types) THEN '{}'::text[] ELSE ARRAY(
    SELECT DISTINCT n.nspname || '.' || p.proname
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND ${RESOLVES_WHEN_RUN}
     ORDER BY 1) END AS "byName",
  coalesce((
    SELECT json_agg(DISTINCT json_build_array(cn.nspname || '.' || c.proname, en.nspname || '.' || e.proname)::text)
      FROM pg_catalog.pg_proc c
      JOIN pg_catalog.pg_namespace cn ON cn.oid = c.pronamespace
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = c.oid
                                 AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
      LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = d.refobjid
      JOIN pg_catalog.pg_proc e ON e.oid = CASE WHEN d.refclassid = 'pg_catalog.pg_proc'::regclass THEN d.refobjid ELSE o.oprcode::oid END
      JOIN pg_catalog.pg_namespace en ON en.oid = e.pronamespace
     WHERE cn.nspname NOT IN ('pg_catalog', 'information_schema') AND en.nspname NOT IN ('pg_catalog', 'information_schema')
       AND e.oid <> c.oid), '[]'::json) AS edges
  FROM why`;

export interface ByNameReachRow {
  canDefine: string | null;
  /** Absent in rows read before it was (tests): null. */
  tempTypes?: string | null;
  byName: string[];
  /** JSON texts of [caller, callee] (json_agg of DISTINCT text: json has no equality). */
  edges: string[];
}

/** What the row says, in the form the relation snapshot uses. */
export interface ByNameReach {
  canDefine: string | null;
  /** Why the role can put temporary types and relations in a by-name body's way (R20c-3); null: it cannot. */
  tempTypes: string | null;
  byName: ReadonlySet<string>;
  /** caller → the user functions its definition binds. */
  binds: ReadonlyMap<string, readonly string[]>;
}

export function byNameReach(row: ByNameReachRow | null | undefined): ByNameReach {
  const binds = new Map<string, string[]>();
  for (const text of row?.edges ?? []) {
    const [caller, callee] = JSON.parse(text) as [string, string];
    const list = binds.get(caller);
    if (list === undefined) binds.set(caller, [callee]);
    else list.push(callee);
  }
  return { canDefine: row?.canDefine ?? null, tempTypes: row?.tempTypes ?? null, byName: new Set(row?.byName ?? []), binds };
}

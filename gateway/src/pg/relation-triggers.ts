// The user triggers of each relation, read with the relation snapshot (pg/relation-snapshot.ts):
// what a write to the relation can fire, for the policy input (statement.triggers).

import type { TriggerInfo } from '../enforce/relation-catalog.ts';

/**
 * What decides what a trigger's function does when it runs, hashed: its language, owner (a SECURITY
 * DEFINER function runs as it), SECURITY DEFINER flag, SET options, object file (C) and source. A
 * `CREATE OR REPLACE FUNCTION` or `ALTER FUNCTION` after a review changes it (enforce/trigger-review.ts).
 * Each part is length-prefixed, so no two definitions hash the same text.
 */
export const FUNCTION_DIGEST = `'sha256:' || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.concat(
      pg_catalog.length(l.lanname), ':', l.lanname, pg_catalog.length(p.proowner::pg_catalog.regrole::text), ':', p.proowner::pg_catalog.regrole::text, p.prosecdef::text, ':',
      pg_catalog.length(coalesce(p.proconfig::text, '')), ':', coalesce(p.proconfig::text, ''),
      pg_catalog.length(coalesce(p.probin, '')), ':', coalesce(p.probin, ''), pg_catalog.length(p.prosrc), ':', p.prosrc), 'UTF8')), 'hex')`;

/**
 * Whether a function resolves names the same for every caller (red-team round 18b, R18b-1): C and
 * internal functions resolve none; any other must set search_path in its definition (proconfig) with
 * pg_temp listed once, last, and no "$user" (the caller's own schema). Otherwise the writer's session
 * decides what its unqualified names mean: pg_temp, searched first for relations unless listed, holds
 * the writer's temporary tables, and the session's path may name a schema the writer creates in.
 * The setting is split at commas (a quoted name holding a comma makes it false: fail closed).
 */
export function pathPinned(proc: string, language: string): string {
  return `(${language}.lanname IN ('c', 'internal') OR EXISTS (
      SELECT 1 FROM pg_catalog.unnest(${proc}.proconfig) AS cfg(setting),
             pg_catalog.regexp_split_to_array(pg_catalog.btrim(pg_catalog.substr(cfg.setting, 13)), '\\s*,\\s*') AS path(e)
       WHERE cfg.setting LIKE 'search_path=%'
         AND pg_catalog.array_position(path.e, 'pg_temp') = pg_catalog.cardinality(path.e)
         AND pg_catalog.array_position(path.e, '"$user"') IS NULL AND pg_catalog.array_position(path.e, '$user') IS NULL))`;
}

/** The user functions trigger `t`'s WHEN condition calls (directly or through an operator) and `extra` admits, "schema.name" sorted. */
function whenFunctions(extra: string): string {
  return `ARRAY(SELECT DISTINCT wn.nspname || '.' || wp.proname
            FROM pg_catalog.pg_depend d
            LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = d.refobjid
            JOIN pg_catalog.pg_proc wp ON wp.oid = CASE WHEN d.refclassid = 'pg_catalog.pg_proc'::regclass THEN d.refobjid ELSE o.oprcode::oid END
            JOIN pg_catalog.pg_namespace wn ON wn.oid = wp.pronamespace
            JOIN pg_catalog.pg_language wl ON wl.oid = wp.prolang
           WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid
             AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
             AND wp.oid <> t.tgfoid AND wn.nspname NOT IN ('pg_catalog', 'information_schema')
             ${extra}
           ORDER BY 1)`;
}

/** The definition digest of one function ($1, a regprocedure text such as 'clinical.stamp()' or a name), as statement.triggers reports it. */
export const FUNCTION_DIGEST_OF = `SELECT ${FUNCTION_DIGEST} AS digest FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE p.oid = $1::text::pg_catalog.regproc`;

/**
 * Enabled user triggers (not internal: foreign-key checks are PostgreSQL's own; not disabled:
 * tgenabled 'D') of relations in user schemas, with their function's schema, name, language and
 * SECURITY DEFINER flag. Triggers enabled only in replica mode ('R') are listed too: a session that
 * may set session_replication_role fires them. `whenFunctions`: the user functions its WHEN condition
 * calls (directly or through an operator), which run on every row the write reaches, before the
 * trigger's function (red-team round 12, R12-5). `functionPathPinned` and `whenUnpinned`: which of
 * them resolve names the same for every writer (pathPinned; R18b-1).
 */
export const TRIGGERS = `SELECT t.tgrelid::int AS rel, t.tgname AS name, t.tgtype::int AS type,
    pn.nspname AS "functionSchema", p.proname AS "functionName", l.lanname AS language, p.prosecdef AS "securityDefiner",
    ${FUNCTION_DIGEST} AS "functionDigest", p.xmin::text AS "functionVersion", ${pathPinned('p', 'l')} AS "functionPathPinned",
    ${whenFunctions('')} AS "whenFunctions",
    ${whenFunctions(`AND NOT ${pathPinned('wp', 'wl')}`)} AS "whenUnpinned"
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY t.tgrelid, t.tgname`;

export interface TriggerRow {
  rel: number;
  name: string;
  /** pg_trigger.tgtype: bit 0 ROW, 1 BEFORE, 2 INSERT, 3 DELETE, 4 UPDATE, 5 TRUNCATE, 6 INSTEAD. */
  type: number;
  functionSchema: string;
  functionName: string;
  language: string;
  securityDefiner: boolean;
  /** The function's definition digest (FUNCTION_DIGEST); absent in rows read before. */
  functionDigest?: string;
  /** The xmin of the function's pg_proc row as read (its row version: any update makes a new one); absent in rows read before. */
  functionVersion?: string;
  /** User functions the trigger's WHEN condition calls ("schema.name"); absent in rows read before. */
  whenFunctions?: string[];
  /** Whether the trigger's function resolves names the same for every caller (pathPinned); absent in rows read before (counted as not). */
  functionPathPinned?: boolean;
  /** The functions of whenFunctions that do not (pathPinned); absent in rows read before (every one of whenFunctions counted). */
  whenUnpinned?: string[];
}

/** Decodes tgtype (PostgreSQL's TRIGGER_TYPE_* bits, catalog/pg_trigger.h). */
export function triggerShape(type: number): Pick<TriggerInfo, 'timing' | 'level' | 'events'> {
  const events: string[] = [];
  if (type & 4) events.push('insert');
  if (type & 16) events.push('update');
  if (type & 8) events.push('delete');
  if (type & 32) events.push('truncate');
  return {
    timing: type & 64 ? 'instead_of' : type & 2 ? 'before' : 'after',
    level: type & 1 ? 'row' : 'statement',
    events,
  };
}

/** Each relation's triggers, keyed by its oid (rows of relations not in the snapshot are dropped). */
export function triggersByRelation(rows: readonly TriggerRow[], relations: ReadonlyMap<number, { schema: string; name: string }>): Map<number, TriggerInfo[]> {
  const out = new Map<number, TriggerInfo[]>();
  for (const row of rows) {
    const rel = relations.get(row.rel);
    if (!rel) continue;
    let list = out.get(row.rel);
    if (!list) out.set(row.rel, (list = []));
    list.push({
      name: row.name,
      table: `${rel.schema}.${rel.name}`,
      function: `${row.functionSchema}.${row.functionName}`,
      language: row.language,
      security_definer: row.securityDefiner,
      ...(row.functionDigest === undefined ? {} : { function_digest: row.functionDigest }),
      ...triggerShape(row.type),
    });
  }
  return out;
}

/** The user functions the WHEN conditions of each relation's triggers call, keyed by its oid. */
export function triggerCallsByRelation(rows: readonly TriggerRow[], relations: ReadonlyMap<number, unknown>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const row of rows) {
    if (!relations.has(row.rel) || !row.whenFunctions || row.whenFunctions.length === 0) continue;
    out.set(row.rel, [...new Set([...(out.get(row.rel) ?? []), ...row.whenFunctions])].sort());
  }
  return out;
}

/**
 * The functions each relation's triggers run (their own and those their WHEN conditions call) whose
 * names the writer's session resolves (pathPinned false), keyed by its oid: a review does not vouch
 * for them (enforce/trigger-review.ts).
 */
export function unpinnedByRelation(rows: readonly TriggerRow[], relations: ReadonlyMap<number, unknown>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const row of rows) {
    if (!relations.has(row.rel)) continue;
    const found = [...(row.functionPathPinned === true ? [] : [`${row.functionSchema}.${row.functionName}`]), ...(row.whenUnpinned ?? row.whenFunctions ?? [])];
    if (found.length === 0) continue;
    out.set(row.rel, [...new Set([...(out.get(row.rel) ?? []), ...found])].sort());
  }
  return out;
}

/**
 * The pg_proc row version (xmin) of each trigger's function, by trigger name, keyed by the relation's oid:
 * pinned with the digest (enforce/function-pins.ts), so that the check after a write fails for a function
 * changed after the decision even when it was put back as it was (red-team round 19b, R19b-1).
 */
export function functionVersionsByRelation(rows: readonly TriggerRow[], relations: ReadonlyMap<number, unknown>): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  for (const row of rows) {
    if (!relations.has(row.rel) || row.functionVersion === undefined) continue;
    let byName = out.get(row.rel);
    if (!byName) out.set(row.rel, (byName = {}));
    byName[row.name] = row.functionVersion;
  }
  return out;
}

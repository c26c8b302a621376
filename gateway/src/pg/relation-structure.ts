// A fingerprint of what decides a write's constraint checks and side effects on each relation: its
// indexes, constraints (its own and those referencing it), triggers, rules, columns, defaults and
// inheritance children or partitions, row-level security (enabled, and its policies, whose expressions
// count as CHECKs: red-team round 21a, R21a-1), as catalog rows (their oids, flags and xmin, so an update shows);
// for a trigger also its function's pg_proc row (CREATE OR REPLACE FUNCTION after a review shows), and
// those of the functions its WHEN condition calls (ALTER FUNCTION ... SET search_path shows: R18b-1);
// and the pg_proc rows of the user functions its write calls besides triggers (CHECK constraints,
// defaults, index expressions, domains, assignment casts: pg/relation-write-calls.ts), so that
// ALTER FUNCTION ... OWNER TO Gatehouse's upstream role of one shows at the next such write (R20b-4).
// Read with the relation snapshot for every relation, and again for the few relations one write under a
// mask reaches, by the same query, so that the two compare (enforce/fresh-catalog.ts; red-team round 10,
// R10-10): a difference means the snapshot is behind the server.

import type pg from 'pg';
import { writeCallVersions } from './relation-write-calls.ts';
import type { RelationFilter } from './type-calls-sql.ts';

/**
 * The catalog rows of relation `rel`, one text item each (grouped by relation below); `only` narrows the
 * write calls' walk (the other rows are filtered after, cheaply), which over every relation would cost
 * each write's check far more than the relations it reaches.
 */
const items = (only?: RelationFilter): string => `SELECT i.indrelid AS rel, 'i' || i.indexrelid || ':' || i.indisunique || i.indisexclusion || i.indisvalid || i.indimmediate || ':' || i.xmin AS item FROM pg_catalog.pg_index i
  UNION ALL SELECT c.conrelid, 'c' || c.oid || ':' || c.xmin FROM pg_catalog.pg_constraint c WHERE c.conrelid <> 0
  UNION ALL SELECT c.confrelid, 'f' || c.oid || ':' || c.xmin FROM pg_catalog.pg_constraint c WHERE c.confrelid <> 0
  UNION ALL SELECT t.tgrelid, 't' || t.oid || ':' || t.tgenabled::text || ':' || t.xmin || ':' || p.xmin FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  UNION ALL SELECT t.tgrelid, 'w' || t.oid || ':' || w.procs FROM pg_catalog.pg_trigger t, LATERAL (
      SELECT pg_catalog.string_agg(wp.oid || ':' || wp.xmin, ',' ORDER BY wp.oid) AS procs
        FROM pg_catalog.pg_depend d
        LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND o.oid = d.refobjid
        JOIN pg_catalog.pg_proc wp ON wp.oid = CASE WHEN d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass THEN d.refobjid ELSE o.oprcode::oid END
       WHERE d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND d.objid = t.oid AND wp.oid <> t.tgfoid
         AND d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass)) w
   WHERE w.procs IS NOT NULL
  UNION ALL SELECT r.ev_class, 'r' || r.oid || ':' || r.ev_enabled::text || ':' || r.xmin FROM pg_catalog.pg_rewrite r
  UNION ALL SELECT a.attrelid, 'a' || a.attnum || ':' || a.atttypid || ':' || a.attisdropped || ':' || a.xmin FROM pg_catalog.pg_attribute a WHERE a.attnum > 0
  UNION ALL SELECT d.adrelid, 'd' || d.oid || ':' || d.xmin FROM pg_catalog.pg_attrdef d
  UNION ALL SELECT h.inhparent, 'h' || h.inhrelid || ':' || h.xmin FROM pg_catalog.pg_inherits h
  UNION ALL SELECT p.polrelid, 'p' || p.oid || ':' || p.xmin FROM pg_catalog.pg_policy p
  UNION ALL SELECT c.oid, 's' || c.relforcerowsecurity FROM pg_catalog.pg_class c WHERE c.relrowsecurity
  UNION ALL SELECT v.rel, v.item FROM (${writeCallVersions(only)}) v`;

const fingerprints = (where: string, only?: RelationFilter): string => `SELECT s.rel::int AS rel, pg_catalog.md5(pg_catalog.string_agg(s.item, ',' ORDER BY s.item)) AS print
  FROM (${items(only)}) s
 WHERE ${where}
 GROUP BY s.rel`;

/** Every relation outside the system schemas (read with the snapshot). */
export const RELATION_STRUCTURE = fingerprints(`s.rel IN (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%')`);

/** The same for some relations, by oid ($1). */
const SOME_STRUCTURE = fingerprints('s.rel = ANY($1::oid[])', (rel) => `${rel} = ANY($1::oid[])`);

export interface StructureRow {
  rel: number;
  print: string;
}

/** Each relation's fingerprint, keyed by oid (a relation without catalog rows here has none). */
export function structureByRelation(rows: readonly StructureRow[]): Map<number, string> {
  return new Map(rows.map((r) => [r.rel, r.print]));
}

/** The fingerprints of `oids` as the server has them now. */
export async function readStructure(client: pg.Client, oids: readonly number[]): Promise<Map<number, string>> {
  return structureByRelation((await client.query<StructureRow>(SOME_STRUCTURE, [oids])).rows);
}

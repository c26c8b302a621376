// Loads, and keeps fresh, the snapshot of the upstream database's relations that mask rewrites and
// the policy input read (enforce/relation-catalog.ts), through Gatehouse's own catalog connection.
// Refreshed in the background when stale; one load in flight at a time.

import type pg from 'pg';
import { CatalogSnapshot } from './catalog-snapshot.ts';
import { RelationCatalog, type ColumnInfo, type Persistence, type RelationInfo, type RelationKind } from '../enforce/relation-catalog.ts';
import { HASH_FUNCTION } from '../enforce/mask-expressions.ts';
import { analyzeQuery } from '../sql/parser.ts';

/** Relations of every schema but toast and other sessions' temporary ones; columns of user schemas only. */
const RELATIONS = `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relpersistence AS persistence,
    CASE WHEN c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
    CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '[]'::json ELSE coalesce((
      SELECT json_agg(json_build_object(
               'name', a.attname, 'attnum', a.attnum, 'category', t.typcategory, 'typeOid', a.atttypid::int,
               'type', CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN pg_catalog.format_type(a.atttypid, a.atttypmod)
                            ELSE pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.typname) END)
             ORDER BY a.attnum)
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json) END AS columns
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Relations each view's rewrite rule reads. */
const VIEW_READS = `SELECT DISTINCT r.ev_class::int AS view, d.refobjid::int AS reads
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_class'::regclass
 WHERE d.refobjid <> r.ev_class`;

/** Functions each view's rewrite rule calls. */
const VIEW_CALLS = `SELECT DISTINCT r.ev_class::int AS view, n.nspname AS schema, p.proname AS name
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_proc'::regclass
  JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace`;

const INHERITS = `SELECT inhrelid::int AS child, inhparent::int AS parent FROM pg_catalog.pg_inherits`;

const MASK_FUNCTIONS = `SELECT coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('${HASH_FUNCTION}(text, text)'), 'EXECUTE'), false) AS hash,
  (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser`;

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  persistence: string;
  definition: string | null;
  columns: ColumnInfo[];
}

function kindOf(relkind: string): RelationKind {
  switch (relkind) {
    case 'r':
      return 'table';
    case 'p':
      return 'partitioned_table';
    case 'v':
      return 'view';
    case 'm':
      return 'materialized_view';
    case 'f':
      return 'foreign_table';
    default:
      return 'other';
  }
}

function persistenceOf(p: string): Persistence {
  return p === 't' ? 'temporary' : p === 'u' ? 'unlogged' : 'permanent';
}

/** Follows edges transitively from each start (cycles are cut). */
function closure(start: number, edges: Map<number, number[]>): number[] {
  const seen = new Set<number>();
  const stack = [...(edges.get(start) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next) || next === start) continue;
    seen.add(next);
    stack.push(...(edges.get(next) ?? []));
  }
  return [...seen];
}

let loads = 0;

/** Reads a fresh snapshot over `client`. */
export async function loadRelationCatalog(client: pg.Client): Promise<RelationCatalog> {
  const [rels, views, calls, inherits, fns] = [
    await client.query<RelationRow>(RELATIONS),
    await client.query<{ view: number; reads: number }>(VIEW_READS),
    await client.query<{ view: number; schema: string; name: string }>(VIEW_CALLS),
    await client.query<{ child: number; parent: number }>(INHERITS),
    await client.query<{ hash: boolean; superuser: boolean }>(MASK_FUNCTIONS),
  ];
  const byOid = new Map<number, RelationRow>(rels.rows.map((r) => [r.oid, r]));
  const edges = (rows: Array<[number, number]>): Map<number, number[]> => {
    const m = new Map<number, number[]>();
    for (const [from, to] of rows) {
      let list = m.get(from);
      if (!list) m.set(from, (list = []));
      list.push(to);
    }
    return m;
  };
  const viewEdges = edges(views.rows.map((r) => [r.view, r.reads]));
  const parentEdges = edges(inherits.rows.map((r) => [r.child, r.parent]));
  const qualified = (oid: number): string[] => {
    const r = byOid.get(oid);
    return r ? [`${r.schema}.${r.name}`] : [];
  };
  // Names as in the policy input's functions: built-ins both bare and pg_catalog-qualified.
  const callsOf = new Map<number, string[]>();
  // Calls of built-in functions are not in pg_depend (pinned objects): read them from the definition.
  for (const r of rels.rows) {
    if (r.definition === null) continue;
    const parsed = analyzeQuery(r.definition);
    const functions = parsed.ok ? parsed.statements.flatMap((st) => st.facts.functions) : ['*unparsable view definition*'];
    callsOf.set(r.oid, functions);
  }
  for (const c of calls.rows) {
    const names = c.schema === 'pg_catalog' ? [c.name, `pg_catalog.${c.name}`] : [`${c.schema}.${c.name}`];
    callsOf.set(c.view, [...(callsOf.get(c.view) ?? []), ...names]);
  }
  const relations: RelationInfo[] = rels.rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    qualified: `${r.schema}.${r.name}`,
    kind: kindOf(r.kind),
    persistence: persistenceOf(r.persistence),
    columns: r.columns,
    reads: closure(r.oid, viewEdges).flatMap(qualified).sort(),
    calls: [...new Set([r.oid, ...closure(r.oid, viewEdges)].flatMap((oid) => callsOf.get(oid) ?? []))].sort(),
    ancestors: closure(r.oid, parentEdges).flatMap(qualified).sort(),
  }));
  return new RelationCatalog(relations, { hash: fns.rows[0]?.hash === true, superuser: fns.rows[0]?.superuser === true }, Date.now(), ++loads);
}

/** Relations created or changed are seen at the next load: the snapshot is reloaded once this old. */
const REFRESH_AFTER_MS = 30_000;

/** The latest snapshot for one database (pg/catalog-snapshot.ts). */
export function relationSnapshot(connect: () => Promise<pg.Client>, refreshAfterMs = REFRESH_AFTER_MS): CatalogSnapshot<RelationCatalog> {
  return new CatalogSnapshot(connect, loadRelationCatalog, refreshAfterMs);
}

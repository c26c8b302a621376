// Reads the snapshot of the upstream database's relations that mask rewrites and the policy input
// read (enforce/relation-catalog.ts), over Gatehouse's own catalog connection; kept fresh by
// pg/catalog-snapshot.ts (in the background, a snapshot kept while its rows do not change).

import type pg from 'pg';
import { CatalogSnapshot, type CatalogReader, type SnapshotSource, type SnapshotTiming } from './catalog-snapshot.ts';
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

/** The catalog rows a relation snapshot is built from. */
export interface RelationRows {
  relations: RelationRow[];
  viewReads: Array<{ view: number; reads: number }>;
  viewCalls: Array<{ view: number; schema: string; name: string }>;
  inherits: Array<{ child: number; parent: number }>;
  maskFunctions: { hash: boolean; superuser: boolean } | null;
}

/** Reads the rows over `client` (one query after another: a client runs one at a time). */
export async function readRelationRows(client: pg.Client): Promise<RelationRows> {
  const relations = (await client.query<RelationRow>(RELATIONS)).rows;
  const viewReads = (await client.query<{ view: number; reads: number }>(VIEW_READS)).rows;
  const viewCalls = (await client.query<{ view: number; schema: string; name: string }>(VIEW_CALLS)).rows;
  const inherits = (await client.query<{ child: number; parent: number }>(INHERITS)).rows;
  const maskFunctions = (await client.query<{ hash: boolean; superuser: boolean }>(MASK_FUNCTIONS)).rows[0] ?? null;
  return { relations, viewReads, viewCalls, inherits, maskFunctions };
}

/** Builds the snapshot from its rows (parses every view definition: done only when the rows changed). */
export function buildRelationCatalog(rows: RelationRows): RelationCatalog {
  const byOid = new Map<number, RelationRow>(rows.relations.map((r) => [r.oid, r]));
  const edges = (pairs: Array<[number, number]>): Map<number, number[]> => {
    const m = new Map<number, number[]>();
    for (const [from, to] of pairs) {
      let list = m.get(from);
      if (!list) m.set(from, (list = []));
      list.push(to);
    }
    return m;
  };
  const viewEdges = edges(rows.viewReads.map((r) => [r.view, r.reads]));
  const parentEdges = edges(rows.inherits.map((r) => [r.child, r.parent]));
  const qualified = (oid: number): string[] => {
    const r = byOid.get(oid);
    return r ? [`${r.schema}.${r.name}`] : [];
  };
  // Names as in the policy input's functions: built-ins both bare and pg_catalog-qualified.
  const callsOf = new Map<number, string[]>();
  // Calls of built-in functions are not in pg_depend (pinned objects): read them from the definition.
  for (const r of rows.relations) {
    if (r.definition === null) continue;
    const parsed = analyzeQuery(r.definition);
    const functions = parsed.ok ? parsed.statements.flatMap((st) => st.facts.functions) : ['*unparsable view definition*'];
    callsOf.set(r.oid, functions);
  }
  for (const c of rows.viewCalls) {
    const names = c.schema === 'pg_catalog' ? [c.name, `pg_catalog.${c.name}`] : [`${c.schema}.${c.name}`];
    callsOf.set(c.view, [...(callsOf.get(c.view) ?? []), ...names]);
  }
  const relations: RelationInfo[] = rows.relations.map((r) => ({
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
  return new RelationCatalog(relations, { hash: rows.maskFunctions?.hash === true, superuser: rows.maskFunctions?.superuser === true }, Date.now(), ++loads);
}

export const RELATION_SNAPSHOT: SnapshotSource<RelationRows, RelationCatalog> = {
  name: 'relation snapshot',
  read: readRelationRows,
  build: buildRelationCatalog,
};

/** The latest snapshot for one database (pg/catalog-snapshot.ts). */
export function relationSnapshot(
  reader: CatalogReader,
  log?: (message: string) => void,
  timing?: SnapshotTiming,
): CatalogSnapshot<RelationRows, RelationCatalog> {
  return new CatalogSnapshot(reader, RELATION_SNAPSHOT, log, timing);
}

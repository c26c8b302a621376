// Reads the snapshot of the upstream database's relations that mask rewrites and the policy input
// read (enforce/relation-catalog.ts), over Gatehouse's own catalog connection; kept fresh by
// pg/catalog-snapshot.ts (in the background, a snapshot kept while its rows do not change).

import type pg from 'pg';
import { CatalogSnapshot, type CatalogReader, type SnapshotTiming } from './catalog-snapshot.ts';
import { RelationCatalog, type ColumnInfo, type ForeignKey, type KeyConstraint, type Persistence, type RelationInfo, type RelationKind } from '../enforce/relation-catalog.ts';
import { functionVersionsByRelation, triggerCallsByRelation, triggersByRelation, TRIGGERS, unpinnedByRelation, type TriggerRow } from './relation-triggers.ts';
import { readStructure, RELATION_STRUCTURE, structureByRelation, type StructureRow } from './relation-structure.ts';
import { callsByRelation, WRITE_CALLS, type WriteCallRow } from './relation-write-calls.ts';
import { BY_NAME_REACH, byNameReach, type ByNameReachRow } from './by-name-reach.ts';
import { REPLACEABLE_FUNCTIONS, replaceableByRelation, replaceableSet, type ReplaceableFunctionRow } from './replaceable-functions.ts';
import { TYPE_CALLS } from './relation-type-calls.ts';
import { CHECK_CONSTRAINTS, checksByRelation, type CheckRow } from './relation-checks.ts';
import { calledFunctions, domainDependencies, TYPE_REACHES } from './type-calls-sql.ts';
import { MASK_FUNCTIONS } from './mask-function-query.ts';
import { GENERATED_FROM } from './generated-columns.ts';
import { analyzeQuery } from '../sql/parser.ts';
import { DDL_LOCKS, relationLocks, type DdlLockRow } from './ddl-locks.ts';
import { INHERITS, readWithParents } from './relation-parents.ts';

/**
 * Relations of every schema but toast and other sessions' temporary ones; columns of user schemas only.
 * pg_get_viewdef locks the view and every relation its rule names (ACCESS SHARE), so it waits while
 * another transaction holds one of them ACCESS EXCLUSIVE or waits to (a migration's CREATE OR REPLACE
 * VIEW, ALTER TABLE, ...): such a view's definition is not read but marked `definitionLocked`, and
 * statements through it are refused until a later read finds it free (red-team round 12, R12-9).
 * Every relation also carries the DDL locks other backends hold or wait for on it (pg/ddl-locks.ts):
 * statements that would queue behind one are refused while it is held (R14-3, enforce/table-locks.ts).
 */
const RELATIONS = `WITH ddl AS MATERIALIZED (
  ${DDL_LOCKS}
), blocked AS MATERIALIZED (
  SELECT k.relation FROM ddl k WHERE k.mode = 'AccessExclusiveLock'
)
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relpersistence AS persistence,
    CASE WHEN v.locked THEN NULL WHEN v.locked IS NOT NULL THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
    coalesce(v.locked, false) AS "definitionLocked",
    CASE WHEN c.relkind IN ('r', 'p', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN
      CASE WHEN pg_catalog.has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') THEN 'write'
           WHEN pg_catalog.has_table_privilege(c.oid, 'SELECT') THEN 'read' END END AS lockable,
    EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN') AS "hasRules",
    CASE WHEN n.nspname NOT IN ('pg_catalog', 'information_schema') THEN (
      SELECT json_agg(json_build_object('pid', k.pid, 'mode', k.mode) ORDER BY k.pid, k.mode) FROM ddl k WHERE k.relation = c.oid) END AS "lockedBy",
    CASE WHEN n.nspname NOT IN ('pg_catalog', 'information_schema') THEN (
      SELECT json_agg(x.indexrelid::int ORDER BY x.indexrelid) FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid AND NOT x.indisvalid) END AS "buildingIndexes",
    CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '[]'::json ELSE coalesce((
      SELECT pg_catalog.json_strip_nulls(json_agg(json_build_object(
               'name', a.attname, 'attnum', a.attnum, 'category', t.typcategory, 'typeOid', a.atttypid::int, ${GENERATED_FROM},
               'type', CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN pg_catalog.format_type(a.atttypid, a.atttypmod)
                            ELSE pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.typname) END)
             ORDER BY a.attnum))
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json) END AS columns,
    CASE WHEN c.relkind = 'p' THEN (
      SELECT CASE WHEN pt.partexprs IS NOT NULL THEN ARRAY['*'] ELSE ARRAY(
               SELECT a.attname::text FROM pg_catalog.unnest(pt.partattrs::int2[]) AS k(attnum)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) END
        FROM pg_catalog.pg_partitioned_table pt WHERE pt.partrelid = c.oid) END AS "partitionKey"
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL (
    SELECT c.oid IN (SELECT relation FROM blocked) OR EXISTS (
             SELECT 1 FROM pg_catalog.pg_rewrite r
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                AND d.refclassid = 'pg_catalog.pg_class'::regclass
              WHERE r.ev_class = c.oid AND d.refobjid IN (SELECT relation FROM blocked)) AS locked
  ) v ON c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Relations each view's rewrite rule reads. */
const VIEW_READS = `SELECT DISTINCT r.ev_class::int AS view, d.refobjid::int AS reads
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_class'::regclass
 WHERE d.refobjid <> r.ev_class`;

/**
 * Functions each view's rewrite rule calls, directly or as the function of an operator it uses
 * (pg_depend names the operator), and those the CHECK constraints of the domains its types reach call:
 * a cast to a domain in a view runs the CHECK whenever the view is read; a type reaches a domain as an
 * array's element, a domain's base or a composite's attribute (red-team round 13, R13-4). Also the
 * functions a table's row-level security policies call (USING, WITH CHECK): they run on every read or
 * write of it that the policies apply to (red-team round 21a, R21a-4). Fragments shared with the write
 * and type calls: pg/type-calls-sql.ts.
 */
const VIEW_CALLS = `WITH RECURSIVE reaches AS (
  ${TYPE_REACHES}
), view_type AS (
  SELECT r.ev_class AS owner, d.refobjid AS type
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid >= 16384
  UNION
  SELECT v.owner, e.reached FROM view_type v JOIN reaches e ON e.type = v.type
), deps AS (
  SELECT r.ev_class AS owner, d.refclassid, d.refobjid
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
  UNION ALL
  SELECT pol.polrelid AS owner, d.refclassid, d.refobjid
    FROM pg_catalog.pg_policy pol
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = pol.oid
  UNION ALL
  ${domainDependencies('view_type')}
)
${calledFunctions('deps', 'view', true)}`;

/**
 * Unique and exclusion indexes of user tables and the columns each covers: its key columns, and for
 * an index over expressions or with a WHERE clause every column it depends on (pg_depend).
 */
const KEY_INDEXES = `SELECT x.indrelid::int AS rel, CASE WHEN x.indisexclusion THEN 'exclusion' ELSE 'unique' END AS kind, ci.relname AS name,
    ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = x.indrelid AND a.attnum > 0 AND NOT a.attisdropped
             AND (a.attnum IN (SELECT x.indkey[k] FROM pg_catalog.generate_series(0, x.indnkeyatts - 1) AS k)
                  OR ((x.indexprs IS NOT NULL OR x.indpred IS NOT NULL) AND EXISTS (
                       SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.indexrelid
                          AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = x.indrelid AND d.refobjsubid = a.attnum)))
           ORDER BY a.attnum) AS columns
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class ci ON ci.oid = x.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace
 WHERE (x.indisunique OR x.indisexclusion) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY x.indrelid, ci.relname`;

/** Foreign keys of user tables: referencing and referenced columns, pairwise in key order. */
const FOREIGN_KEYS = `SELECT c.conrelid::int AS rel, c.confrelid::int AS referenced, c.conname AS name,
    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, i)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i) AS columns,
    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY AS k(attnum, i)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i) AS "referencedColumns",
    c.confupdtype AS "onUpdate", c.confdeltype AS "onDelete"
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
 WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY c.conrelid, c.conname`;

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  persistence: string;
  definition: string | null;
  /** A view whose definition was not read: locked by another transaction (absent in rows read before: false). */
  definitionLocked?: boolean;
  /** DDL locks of other backends on it (null: none; absent in rows read before locks were). */
  lockedBy?: DdlLockRow[] | null;
  /** Its indexes not yet valid (null: none; absent in rows read before they were). */
  buildingIndexes?: number[] | null;
  /** The LOCK TABLE modes the reading role may take on it (null: none; absent in rows read before: none). */
  lockable?: 'read' | 'write' | null;
  /** It has rewrite rules of its own, besides a view's _RETURN rule (absent in rows read before: none). */
  hasRules?: boolean;
  columns: ColumnInfo[];
  /** For a partitioned table: its partition key columns, ['*'] when it has expressions. */
  partitionKey?: string[] | null;
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

interface KeyIndexRow {
  rel: number;
  kind: 'unique' | 'exclusion';
  name: string;
  columns: string[];
}

interface ForeignKeyRow {
  rel: number;
  referenced: number;
  name: string;
  columns: string[];
  referencedColumns: string[];
  /** pg_constraint.confupdtype / confdeltype: a (no action), r (restrict), c (cascade), n (set null), d (set default). */
  onUpdate?: string;
  onDelete?: string;
}

/** The catalog rows a relation snapshot is built from. */
export interface RelationRows {
  relations: RelationRow[];
  viewReads: Array<{ view: number; reads: number }>;
  viewCalls: Array<{ view: number; schema: string; name: string }>;
  inherits: Array<{ child: number; parent: number }>;
  /** Absent in rows read before constraints were (tests): no constraint known. */
  keyIndexes?: KeyIndexRow[];
  foreignKeys?: ForeignKeyRow[];
  /** Absent in rows read before CHECK constraints were (tests): none known. */
  checks?: CheckRow[];
  /** Absent in rows read before triggers were (tests): no trigger known. */
  triggers?: TriggerRow[];
  /** Absent in rows read before write calls were (tests): none known. */
  writeCalls?: WriteCallRow[];
  /** Absent in rows read before type calls were (tests): none known. */
  typeCalls?: WriteCallRow[];
  /** Each relation's constraint fingerprint (pg/relation-structure.ts); absent in rows read before it was (tests). */
  structure?: StructureRow[];
  /** User functions the upstream role could replace (pg/replaceable-functions.ts); absent in rows read before (tests): none. */
  replaceable?: ReplaceableFunctionRow[];
  /** What bodies may reach by name and bind (pg/by-name-reach.ts); absent in rows read before (tests): nothing. */
  byNameReach?: ByNameReachRow | null;
  maskFunctions: MaskFunctionRow | null;
}

/** `language`: the hash function's (c, plpgsql), null when it is missing. */
interface MaskFunctionRow {
  hash: boolean;
  /** Absent in rows read before the C last4 existed: false. */
  last4?: boolean;
  superuser: boolean;
  language?: string | null;
}

/** Reads the rows over `client` (one query after another: a client runs one at a time). */
export async function readRelationRows(client: pg.Client): Promise<RelationRows> {
  const relations = (await client.query<RelationRow>(RELATIONS)).rows;
  const viewReads = (await client.query<{ view: number; reads: number }>(VIEW_READS)).rows;
  const viewCalls = (await client.query<{ view: number; schema: string; name: string }>(VIEW_CALLS)).rows;
  const inherits = (await client.query<{ child: number; parent: number }>(INHERITS)).rows;
  const keyIndexes = (await client.query<KeyIndexRow>(KEY_INDEXES)).rows;
  const foreignKeys = (await client.query<ForeignKeyRow>(FOREIGN_KEYS)).rows;
  const checks = (await client.query<CheckRow>(CHECK_CONSTRAINTS)).rows;
  const triggers = (await client.query<TriggerRow>(TRIGGERS)).rows;
  const writeCalls = (await client.query<WriteCallRow>(WRITE_CALLS)).rows;
  const typeCalls = (await client.query<WriteCallRow>(TYPE_CALLS)).rows;
  const structure = (await client.query<StructureRow>(RELATION_STRUCTURE)).rows;
  const replaceable = (await client.query<ReplaceableFunctionRow>(REPLACEABLE_FUNCTIONS)).rows;
  const reach = (await client.query<ByNameReachRow>(BY_NAME_REACH)).rows[0] ?? null;
  const maskFunctions = (await client.query<MaskFunctionRow>(MASK_FUNCTIONS)).rows[0] ?? null;
  return { relations, viewReads, viewCalls, inherits, keyIndexes, foreignKeys, checks, triggers, writeCalls, typeCalls, structure, replaceable, byNameReach: reach, maskFunctions };
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
  const qualified = (oid: number): string[] => [byOid.get(oid)].flatMap((r) => (r ? [`${r.schema}.${r.name}`] : []));
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
  const { keys, foreignKeys, actionWrites } = constraintsByRelation(rows, byOid);
  const checks = checksByRelation(rows.checks ?? [], byOid);
  const triggers = triggersByRelation(rows.triggers ?? [], byOid);
  const triggerCalls = triggerCallsByRelation(rows.triggers ?? [], byOid);
  const unpinned = unpinnedByRelation(rows.triggers ?? [], byOid);
  const functionVersions = functionVersionsByRelation(rows.triggers ?? [], byOid);
  const writeCalls = callsByRelation(rows.writeCalls ?? [], byOid);
  const typeCalls = callsByRelation(rows.typeCalls ?? [], byOid);
  const structure = structureByRelation(rows.structure ?? []);
  const replaceable = replaceableByRelation(replaceableSet(rows.replaceable ?? []), triggers, [triggerCalls, writeCalls, typeCalls], byNameReach(rows.byNameReach));
  const locked = new Set(rows.relations.filter((r) => r.definitionLocked === true).map((r) => r.oid));
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
    ...(locked.size > 0 && [r.oid, ...closure(r.oid, viewEdges)].some((oid) => locked.has(oid)) ? { definitionLocked: true as const } : {}),
    ...(r.lockedBy && r.lockedBy.length > 0 ? { lockedBy: relationLocks(r.lockedBy) } : {}),
    ...(r.buildingIndexes && r.buildingIndexes.length > 0 ? { buildingIndexes: r.buildingIndexes } : {}),
    ...(r.lockable === 'read' || r.lockable === 'write' ? { lockable: r.lockable } : {}),
    ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
    ...(r.hasRules === true ? { rules: true as const } : {}),
    ...(keys.has(r.oid) ? { keys: keys.get(r.oid)! } : {}),
    ...(foreignKeys.has(r.oid) ? { foreignKeys: foreignKeys.get(r.oid)! } : {}),
    ...(checks.has(r.oid) ? { checks: checks.get(r.oid)! } : {}),
    ...(actionWrites.has(r.oid) ? { actionWrites: [...new Set(actionWrites.get(r.oid)!)].sort() } : {}),
    ...(triggers.has(r.oid) ? { triggers: triggers.get(r.oid)! } : {}),
    ...(triggerCalls.has(r.oid) ? { triggerCalls: triggerCalls.get(r.oid)! } : {}),
    ...(unpinned.has(r.oid) ? { unpinnedFunctions: unpinned.get(r.oid)! } : {}),
    ...(functionVersions.has(r.oid) ? { triggerFunctionVersions: functionVersions.get(r.oid)! } : {}),
    ...(writeCalls.has(r.oid) ? { writeCalls: writeCalls.get(r.oid)! } : {}),
    ...(typeCalls.has(r.oid) ? { typeCalls: typeCalls.get(r.oid)! } : {}),
    ...(structure.has(r.oid) ? { structure: structure.get(r.oid)! } : {}),
    ...(replaceable.has(r.oid) ? { replaceableFunctions: replaceable.get(r.oid)! } : {}),
  }));
  return new RelationCatalog(relations, {
      hash: rows.maskFunctions?.hash === true,
      superuser: rows.maskFunctions?.superuser === true,
      last4: rows.maskFunctions?.last4 === true,
      ...(rows.maskFunctions?.hash === true ? { implementation: rows.maskFunctions.language === 'c' ? ('c' as const) : ('plpgsql' as const) } : {}),
    }, Date.now(), ++loads);
}

/** Each table's key constraints (its own indexes, and the columns other tables' foreign keys reference) and foreign keys. */
function constraintsByRelation(
  rows: RelationRows,
  byOid: Map<number, RelationRow>,
): { keys: Map<number, KeyConstraint[]>; foreignKeys: Map<number, ForeignKey[]>; actionWrites: Map<number, string[]> } {
  const keys = new Map<number, KeyConstraint[]>();
  const foreignKeys = new Map<number, ForeignKey[]>();
  const actionWrites = new Map<number, string[]>();
  const add = <T>(m: Map<number, T[]>, oid: number, item: T): void => {
    let list = m.get(oid);
    if (!list) m.set(oid, (list = []));
    list.push(item);
  };
  for (const k of rows.keyIndexes ?? []) add(keys, k.rel, { kind: k.kind, name: k.name, columns: k.columns });
  for (const f of rows.foreignKeys ?? []) {
    const from = byOid.get(f.rel);
    const to = byOid.get(f.referenced);
    if (!from || !to) continue;
    add(keys, f.referenced, { kind: 'referenced', name: f.name, columns: f.referencedColumns, from: `${from.schema}.${from.name}`, referencing: f.columns });
    add(foreignKeys, f.rel, { name: f.name, columns: f.columns, table: `${to.schema}.${to.name}`, referenced: f.referencedColumns });
    // CASCADE, SET NULL and SET DEFAULT write the referencing table when the referenced one is
    // updated or deleted from; an unknown action (rows read before actions were) counts as one.
    if (!isInert(f.onUpdate) || !isInert(f.onDelete)) add(actionWrites, f.referenced, `${from.schema}.${from.name}`);
  }
  return { keys, foreignKeys, actionWrites };
}

/** NO ACTION and RESTRICT only check; anything else (or nothing known) may write. */
function isInert(action: string | undefined): boolean {
  return action === 'a' || action === 'r';
}

/** The relation snapshot of one database, which can also tell how some relations stand on the server now. */
export class RelationSnapshot extends CatalogSnapshot<RelationRows, RelationCatalog> {
  /** The constraint fingerprints of `oids` on the server now (pg/relation-structure.ts), over the snapshot's connection. */
  structure(oids: readonly number[]): Promise<Map<number, string>> {
    return this.reader((client) => readStructure(client, oids));
  }

  /** The direct parents on the server now of those of `oids` that have one (pg/relation-parents.ts). */
  withParents(oids: readonly number[]): Promise<Map<number, number[]>> {
    return this.reader((client) => readWithParents(client, oids));
  }
}

/** The latest snapshot for one database (pg/catalog-snapshot.ts). */
export function relationSnapshot(reader: CatalogReader, log?: (message: string) => void, timing?: SnapshotTiming): RelationSnapshot {
  return new RelationSnapshot(reader, { name: 'relation snapshot', read: readRelationRows, build: buildRelationCatalog }, log, timing);
}

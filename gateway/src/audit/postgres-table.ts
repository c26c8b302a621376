// The audit table in PostgreSQL (sink postgres): its DDL, and the few statements that write and read
// it. One row per chained line, keyed by (instance, seq): each gateway instance keeps its own chain,
// and `line` holds the exact bytes the chain hashes, as a line of the NDJSON log would.

import type pg from 'pg';
import { lineHash, type ChainHead } from './chain.ts';

export const DEFAULT_AUDIT_TABLE = 'gatehouse.audit_log';
/** First key of the session advisory lock one writer holds on its instance (the second: hashtext(instance)). */
export const INSTANCE_LOCK = 7_346_110;
/** Serializes concurrent creations of the table (transaction advisory lock). */
const DDL_LOCK = 7_346_111;

/** A `schema.table` name (checked against the config schema's pattern), quoted for SQL. */
export interface AuditTable {
  schema: string;
  name: string;
  /** "schema"."name" */
  sql: string;
}

export function auditTable(qualified: string = DEFAULT_AUDIT_TABLE): AuditTable {
  const match = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/.exec(qualified);
  if (match === null) throw new Error(`the audit table must be named schema.table in lower case (got ${JSON.stringify(qualified)})`);
  const [, schema, name] = match as unknown as [string, string, string];
  return { schema, name, sql: `"${schema}"."${name}"` };
}

/** The DDL `gatehouse audit init-db` runs (and the gateway at start when the table is missing). */
export function auditTableDdl(t: AuditTable): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS "${t.schema}"`,
    `CREATE TABLE IF NOT EXISTS ${t.sql} (
       instance text NOT NULL,
       seq bigint NOT NULL CHECK (seq > 0),
       type text NOT NULL,
       time timestamptz NOT NULL,
       decision_id text,
       line text NOT NULL,
       written_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
       PRIMARY KEY (instance, seq))`,
    `CREATE INDEX IF NOT EXISTS "${t.name}_time" ON ${t.sql} (time)`,
    `CREATE INDEX IF NOT EXISTS "${t.name}_decision" ON ${t.sql} (decision_id) WHERE decision_id IS NOT NULL`,
    // Rows are evidence: nobody but the owner changes them (docs/audit.md: grant SELECT, INSERT only).
    `REVOKE UPDATE, DELETE, TRUNCATE ON ${t.sql} FROM PUBLIC`,
  ];
}

/** The statements that let `role` write the log and nothing more (printed by init-db --grant). */
export function auditGrants(t: AuditTable, role: string): string[] {
  const r = `"${role.replace(/"/g, '""')}"`;
  return [`GRANT USAGE ON SCHEMA "${t.schema}" TO ${r}`, `GRANT SELECT, INSERT ON ${t.sql} TO ${r}`];
}

/** Creates the table when it is missing (one creator at a time); true when it was created. */
export async function ensureAuditTable(client: pg.ClientBase, t: AuditTable): Promise<boolean> {
  const exists = await client.query<{ r: string | null }>('SELECT pg_catalog.to_regclass($1)::text AS r', [`${t.schema}.${t.name}`]);
  if (exists.rows[0]?.r != null) return false;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [DDL_LOCK]);
    for (const sql of auditTableDdl(t)) await client.query(sql);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return true;
}

/** One row to insert: a chained line with the columns queries use. */
export interface AuditRow {
  seq: number;
  type: string;
  time: string;
  decisionId: string | null;
  line: string;
}

/** Inserts `rows` of `instance` with one statement (one transaction: all or none). */
export async function insertAuditRows(client: pg.ClientBase, t: AuditTable, instance: string, rows: readonly AuditRow[]): Promise<void> {
  await client.query(
    `INSERT INTO ${t.sql} (instance, seq, type, time, decision_id, line)
     SELECT $1, u.seq, u.type, u.time, u.decision_id, u.line
       FROM ROWS FROM (pg_catalog.unnest($2::bigint[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::timestamptz[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[])) AS u(seq, type, time, decision_id, line)`,
    [instance, rows.map((r) => r.seq), rows.map((r) => r.type), rows.map((r) => r.time), rows.map((r) => r.decisionId), rows.map((r) => r.line)],
  );
}

/** Where `instance`'s chain stands in the table, and its last checkpoint (null: none yet). */
export async function readChainState(client: pg.ClientBase, t: AuditTable, instance: string): Promise<{ head: ChainHead | null; checkpoint: ChainHead | null }> {
  const last = await client.query<{ seq: string; line: string }>(`SELECT seq, line FROM ${t.sql} WHERE instance = $1 ORDER BY seq DESC LIMIT 1`, [instance]);
  const cp = await client.query<{ seq: string; line: string }>(
    `SELECT seq, line FROM ${t.sql} WHERE instance = $1 AND type = 'checkpoint' ORDER BY seq DESC LIMIT 1`,
    [instance],
  );
  const headOf = (row: { seq: string; line: string } | undefined): ChainHead | null => (row === undefined ? null : { seq: Number(row.seq), head: lineHash(row.line) });
  return { head: headOf(last.rows[0]), checkpoint: headOf(cp.rows[0]) };
}

/** The instances that have rows, in name order. */
export async function auditInstances(client: pg.ClientBase, t: AuditTable): Promise<string[]> {
  // A loose index scan over the primary key: one probe per instance, not a scan of every row.
  const r = await client.query<{ instance: string }>(
    `WITH RECURSIVE i(instance) AS (
       (SELECT instance FROM ${t.sql} ORDER BY instance LIMIT 1)
       UNION ALL
       SELECT (SELECT n.instance FROM ${t.sql} n WHERE n.instance > i.instance ORDER BY n.instance LIMIT 1) FROM i WHERE i.instance IS NOT NULL)
     SELECT instance FROM i WHERE instance IS NOT NULL`,
  );
  return r.rows.map((row) => row.instance);
}

/** `instance`'s rows in seq order, a page at a time: (row's seq column, line). */
export async function* readInstanceRows(client: pg.ClientBase, t: AuditTable, instance: string, pageSize = 5000): AsyncGenerator<{ seq: number; line: string }> {
  let after = -1;
  for (;;) {
    const page = await client.query<{ seq: string; line: string }>(`SELECT seq, line FROM ${t.sql} WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [
      instance,
      after,
      pageSize,
    ]);
    for (const row of page.rows) yield { seq: Number(row.seq), line: row.line };
    if (page.rows.length < pageSize) return;
    after = Number(page.rows.at(-1)!.seq);
  }
}

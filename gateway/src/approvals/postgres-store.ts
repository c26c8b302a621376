// An approval store in the upstream PostgreSQL, schema `gatehouse` (created by Gatehouse, next to
// the masking key; clients cannot name that schema through Gatehouse): several instances share
// requests and grants, and both survive restarts. A change locks its row (SELECT ... FOR UPDATE),
// runs the pure transition and writes the result in one transaction.

import pg from 'pg';
import { GatehouseError } from '../errors.ts';
import type { ApprovalStore, RequestChange } from './store.ts';
import type { ApprovalRequest, Grant, RequestState } from './types.ts';

/** Any advisory lock key: instances starting together create the tables one after the other. */
const SCHEMA_LOCK = 7_346_102;

const SCHEMA_STATEMENTS = [
  'CREATE SCHEMA IF NOT EXISTS gatehouse',
  `CREATE TABLE IF NOT EXISTS gatehouse.approval_requests (
     id uuid PRIMARY KEY,
     state text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn', 'void')),
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     fingerprint text NOT NULL,
     doc jsonb NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS approval_requests_state ON gatehouse.approval_requests (state, created_at DESC)',
  `CREATE TABLE IF NOT EXISTS gatehouse.approval_grants (
     id uuid PRIMARY KEY,
     fingerprint text NOT NULL,
     subject text NOT NULL,
     created_at timestamptz NOT NULL,
     doc jsonb NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS approval_grants_lookup ON gatehouse.approval_grants (fingerprint, subject)',
];

export interface PostgresStoreOptions {
  /** libpq URL of a database (Gatehouse's upstream, with its own credentials). */
  url: string;
  /** Connections kept for the store (default 4). */
  maxConnections?: number;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<ApprovalStore> {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 4, application_name: 'gatehouse:approvals' });
  // An idle connection's error (server restart) must not take the process down; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await inTransaction(pool, async (c) => {
      await c.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const sql of SCHEMA_STATEMENTS) await c.query(sql);
    });
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new GatehouseError('CONFIG_INVALID', `cannot create the approval tables in schema gatehouse: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'the upstream role needs CREATE on the database (or on schema gatehouse); run `gatehouse db setup` as the database owner first',
      cause: e,
    });
  }

  return {
    kind: 'postgres',
    async create(request) {
      await pool.query(
        'INSERT INTO gatehouse.approval_requests (id, state, created_at, expires_at, fingerprint, doc) VALUES ($1, $2, $3, $4, $5, $6)',
        [request.id, request.state, request.createdAt, request.expiresAt, request.statement.fingerprint, request],
      );
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const res = await pool.query<{ doc: ApprovalRequest }>('SELECT doc FROM gatehouse.approval_requests WHERE id = $1', [id]);
      return res.rows[0]?.doc ?? null;
    },
    async list(query: { states?: readonly RequestState[]; limit: number }) {
      const res =
        query.states === undefined
          ? await pool.query<{ doc: ApprovalRequest }>('SELECT doc FROM gatehouse.approval_requests ORDER BY created_at DESC LIMIT $1', [query.limit])
          : await pool.query<{ doc: ApprovalRequest }>(
              'SELECT doc FROM gatehouse.approval_requests WHERE state = ANY($1) ORDER BY created_at DESC LIMIT $2',
              [query.states, query.limit],
            );
      return res.rows.map((r) => r.doc);
    },
    async update<T>(id: string, change: (current: ApprovalRequest) => RequestChange<T>) {
      if (!isUuid(id)) return null;
      return inTransaction(pool, async (c) => {
        const res = await c.query<{ doc: ApprovalRequest }>('SELECT doc FROM gatehouse.approval_requests WHERE id = $1 FOR UPDATE', [id]);
        const current = res.rows[0]?.doc;
        if (current === undefined) return null;
        const out = change(current);
        if (out.request !== null) {
          await c.query('UPDATE gatehouse.approval_requests SET state = $2, doc = $3 WHERE id = $1', [id, out.request.state, out.request]);
        }
        if (out.grant) {
          await c.query('INSERT INTO gatehouse.approval_grants (id, fingerprint, subject, created_at, doc) VALUES ($1, $2, $3, $4, $5)', [
            out.grant.id,
            out.grant.fingerprint,
            out.grant.subject,
            out.grant.createdAt,
            out.grant,
          ]);
        }
        return out.result;
      });
    },
    async grants(query) {
      const res = await pool.query<{ doc: Grant }>('SELECT doc FROM gatehouse.approval_grants ORDER BY created_at DESC LIMIT $1', [query.limit]);
      return res.rows.map((r) => r.doc);
    },
    async getGrant(id) {
      if (!isUuid(id)) return null;
      const res = await pool.query<{ doc: Grant }>('SELECT doc FROM gatehouse.approval_grants WHERE id = $1', [id]);
      return res.rows[0]?.doc ?? null;
    },
    async grantsFor(fingerprint, subject) {
      const res = await pool.query<{ doc: Grant }>('SELECT doc FROM gatehouse.approval_grants WHERE fingerprint = $1 AND subject = $2', [fingerprint, subject]);
      return res.rows.map((r) => r.doc);
    },
    async updateGrant<T>(id: string, change: (current: Grant) => { grant: Grant | null; result: T }) {
      if (!isUuid(id)) return null;
      return inTransaction(pool, async (c) => {
        const res = await c.query<{ doc: Grant }>('SELECT doc FROM gatehouse.approval_grants WHERE id = $1 FOR UPDATE', [id]);
        const current = res.rows[0]?.doc;
        if (current === undefined) return null;
        const out = change(current);
        if (out.grant !== null) await c.query('UPDATE gatehouse.approval_grants SET doc = $2 WHERE id = $1', [id, out.grant]);
        return out.result;
      });
    },
    close: () => pool.end(),
  };
}

async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await work(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Ids are UUIDs; anything else is not looked up (PostgreSQL would raise on the cast). */
function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

// An approval store in the upstream PostgreSQL, schema `gatehouse` (created by Gatehouse, next to
// the masking key; clients cannot name that schema through Gatehouse): several instances share
// requests and grants, and both survive restarts. A change locks its row (SELECT ... FOR UPDATE),
// runs the pure transition and writes the result in one transaction.

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { GatehouseError } from '../errors.ts';
import type { NotificationKind } from './notifications/event.ts';
import { grantListQuery, requestCountQuery, requestListQuery } from './postgres-lists.ts';
import type { ApprovalStore, RequestChange, RequestQuery } from './store.ts';
import type { ApprovalRequest, Grant } from './types.ts';

/** Any advisory lock key: instances starting together create the tables one after the other. */
const SCHEMA_LOCK = 7_346_102;
/** The first key of the two-key advisory lock that serializes one requester's new requests (the second: a hash of the requester). */
const REQUESTER_LOCK = 7_346_103;

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
  // Read from the document, so that tables created before these columns fill them too.
  "ALTER TABLE gatehouse.approval_requests ADD COLUMN IF NOT EXISTS requester_subject text GENERATED ALWAYS AS (doc #>> '{requester,subject}') STORED",
  "ALTER TABLE gatehouse.approval_requests ADD COLUMN IF NOT EXISTS requester_issuer text GENERATED ALWAYS AS (doc #>> '{requester,issuer}') STORED",
  "CREATE INDEX IF NOT EXISTS approval_requests_pending_requester ON gatehouse.approval_requests (requester_subject, requester_issuer) WHERE state = 'pending'",
  `CREATE TABLE IF NOT EXISTS gatehouse.approval_grants (
     id uuid PRIMARY KEY,
     fingerprint text NOT NULL,
     subject text NOT NULL,
     created_at timestamptz NOT NULL,
     doc jsonb NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS approval_grants_lookup ON gatehouse.approval_grants (fingerprint, subject)',
  // The order of every list and page (postgres-lists.ts): newest first, then the larger id.
  'CREATE INDEX IF NOT EXISTS approval_requests_newest ON gatehouse.approval_requests (created_at DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS approval_grants_newest ON gatehouse.approval_grants (created_at DESC, id DESC)',
  "ALTER TABLE gatehouse.approval_requests ADD COLUMN IF NOT EXISTS instance_id text GENERATED ALWAYS AS (doc ->> 'instanceId') STORED",
  `CREATE TABLE IF NOT EXISTS gatehouse.approval_instances (
     id text PRIMARY KEY,
     started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
     heartbeat_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
     stopped_at timestamptz)`,
  `CREATE TABLE IF NOT EXISTS gatehouse.approval_outbox (
     id uuid PRIMARY KEY,
     target text NOT NULL,
     kind text NOT NULL,
     doc jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
     claimed_until timestamptz,
     done_at timestamptz,
     outcome text,
     last_error text)`,
  'CREATE INDEX IF NOT EXISTS approval_outbox_due ON gatehouse.approval_outbox (next_attempt_at) WHERE done_at IS NULL',
];

export interface PostgresStoreOptions {
  /** libpq URL of a database (Gatehouse's upstream, with its own credentials). */
  url: string;
  /** Connections kept for the store (default 4). */
  maxConnections?: number;
  /**
   * The notification targets (notifications/notifier.ts targetKey) each announced change is queued
   * for, in the transaction of the change; empty or absent: no outbox.
   */
  outboxTargets?: readonly string[];
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

  const outboxTargets = options.outboxTargets ?? [];
  /** Queues one notification per target, in the change's transaction. */
  const enqueue = async (c: pg.PoolClient, kind: NotificationKind | null | undefined, request: ApprovalRequest): Promise<void> => {
    if (kind === null || kind === undefined) return;
    for (const target of outboxTargets) {
      await c.query('INSERT INTO gatehouse.approval_outbox (id, target, kind, doc) VALUES ($1, $2, $3, $4)', [randomUUID(), target, kind, request]);
    }
  };

  return {
    kind: 'postgres',
    outbox: outboxTargets.length > 0,
    async create(request, admit) {
      const insert = (c: pg.Pool | pg.PoolClient): Promise<unknown> =>
        c.query('INSERT INTO gatehouse.approval_requests (id, state, created_at, expires_at, fingerprint, doc) VALUES ($1, $2, $3, $4, $5, $6)', [
          request.id,
          request.state,
          request.createdAt,
          request.expiresAt,
          request.statement.fingerprint,
          request,
        ]);
      const { subject, issuer } = request.requester;
      return inTransaction(pool, async (c) => {
        if (admit === undefined) {
          await insert(c);
          await enqueue(c, 'requested', request);
          return true;
        }
        await c.query('SELECT pg_catalog.pg_advisory_xact_lock($1, pg_catalog.hashtext($2))', [REQUESTER_LOCK, `${issuer}\n${subject}`]);
        const res = await c.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM gatehouse.approval_requests WHERE state = 'pending' AND requester_subject = $1 AND requester_issuer = $2 AND expires_at > $3",
          [subject, issuer, request.createdAt],
        );
        if (!admit(res.rows[0]?.n ?? 0)) return false;
        await insert(c);
        await enqueue(c, 'requested', request);
        return true;
      });
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const res = await pool.query<{ doc: ApprovalRequest }>('SELECT doc FROM gatehouse.approval_requests WHERE id = $1', [id]);
      return res.rows[0]?.doc ?? null;
    },
    async list(query: RequestQuery) {
      const { sql, params } = requestListQuery(query);
      const res = await pool.query<{ doc: ApprovalRequest }>(sql, params);
      return res.rows.map((r) => r.doc);
    },
    async count(filter) {
      const { sql, params } = requestCountQuery(filter);
      const res = await pool.query<{ n: number }>(sql, params);
      return res.rows[0]?.n ?? 0;
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
          await enqueue(c, out.announce, out.request);
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
      const { sql, params } = grantListQuery(query);
      const res = await pool.query<{ doc: Grant }>(sql, params);
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
    async heartbeat(instanceId) {
      await pool.query(
        'INSERT INTO gatehouse.approval_instances (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = pg_catalog.now(), stopped_at = NULL',
        [instanceId],
      );
    },
    async markStopped(instanceId) {
      await pool.query('UPDATE gatehouse.approval_instances SET stopped_at = pg_catalog.now() WHERE id = $1', [instanceId]);
    },
    async orphaned(self, staleAfterSeconds, limit) {
      // Notifications queued a week ago, and instances gone for a day with nothing pending, are forgotten.
      // (A notification still undelivered after a week, for a target no live instance has, goes too.)
      await pool.query("DELETE FROM gatehouse.approval_outbox WHERE created_at < pg_catalog.now() - interval '7 days'");
      await pool.query(
        "DELETE FROM gatehouse.approval_instances i WHERE i.heartbeat_at < pg_catalog.now() - interval '1 day' AND NOT EXISTS (SELECT FROM gatehouse.approval_requests r WHERE r.state = 'pending' AND r.instance_id = i.id)",
      );
      const res = await pool.query<{ doc: ApprovalRequest }>(
        `SELECT r.doc FROM gatehouse.approval_requests r LEFT JOIN gatehouse.approval_instances i ON i.id = r.instance_id
          WHERE r.state = 'pending' AND r.instance_id IS NOT NULL AND r.instance_id <> $1
            AND (i.id IS NULL OR i.stopped_at IS NOT NULL OR i.heartbeat_at < pg_catalog.now() - pg_catalog.make_interval(secs => $2))
          ORDER BY r.created_at LIMIT $3`,
        [self, staleAfterSeconds, limit],
      );
      return res.rows.map((r) => r.doc);
    },
    async claimNotifications(targets, limit, leaseSeconds) {
      const res = await pool.query<{ id: string; target: string; kind: NotificationKind; doc: ApprovalRequest; attempts: number; created_at: Date }>(
        `UPDATE gatehouse.approval_outbox o SET attempts = o.attempts + 1, claimed_until = pg_catalog.now() + pg_catalog.make_interval(secs => $3)
          WHERE o.id IN (SELECT id FROM gatehouse.approval_outbox
                          WHERE done_at IS NULL AND target = ANY($1::text[]) AND next_attempt_at <= pg_catalog.now()
                            AND (claimed_until IS NULL OR claimed_until < pg_catalog.now())
                          ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING o.id, o.target, o.kind, o.doc, o.attempts, o.created_at`,
        [targets, limit, leaseSeconds],
      );
      return res.rows.map((r) => ({ id: r.id, target: r.target, kind: r.kind, request: r.doc, attempts: r.attempts, createdAt: r.created_at.toISOString() }));
    },
    async finishNotification(id, result) {
      if ('release' in result) {
        await pool.query('UPDATE gatehouse.approval_outbox SET claimed_until = NULL, attempts = GREATEST(attempts - 1, 0) WHERE id = $1 AND done_at IS NULL', [id]);
      } else if ('retryInMs' in result) {
        await pool.query(
          'UPDATE gatehouse.approval_outbox SET claimed_until = NULL, last_error = $3, next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs => $2) WHERE id = $1',
          [id, result.retryInMs / 1000, result.error],
        );
      } else {
        await pool.query('UPDATE gatehouse.approval_outbox SET claimed_until = NULL, done_at = pg_catalog.now(), outcome = $2, last_error = $3 WHERE id = $1', [
          id,
          result.outcome,
          result.error ?? null,
        ]);
      }
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

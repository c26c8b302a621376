// Integration harness: a real PostgreSQL database seeded with the synthetic clinic, a real
// Gatehouse in front of it (real JWTs, real OPA-built WASM or Cedar), and real clients.

import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { setupMaskFunctions } from '../../src/db/setup.ts';
import { ensureDevKeys, mintDevToken, DEV_ALGORITHM } from '../../src/auth/dev-keys.ts';
import { configFromObject } from '../../src/config/load.ts';
import { seedScript } from '../../src/demo/clinic-schema.ts';
import { generateClinic } from '../../src/demo/synthetic-clinic.ts';
import type { AuditRecord, AuditSink } from '../../src/audit/types.ts';
import type { PolicyEvaluator } from '../../src/policy/evaluate.ts';
import type { DecisionCache } from '../../src/enforce/decision-cache.ts';
import { redactStatementText } from '../../src/audit/redact.ts';
import { isUnusedTail } from '../../src/audit/unused-tail.ts';
import type { EngineKind } from '../../src/policy/types.ts';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/server.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const PG_ADMIN_URL = process.env['GATEHOUSE_TEST_PG'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** Override per concurrent runner (e.g. two people testing on one machine) with GATEHOUSE_TEST_DB. */
export const TEST_DB = testDatabaseName(process.env['GATEHOUSE_TEST_DB'] ?? 'gatehouse_it');

/** A plain lower-case identifier, so it means the same unquoted in SQL and in a connection URL. */
function testDatabaseName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new Error(`GATEHOUSE_TEST_DB must be a lower-case identifier (letters, digits, _), got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Creates `database` on the test server unless it exists; returns its URL (PG_ADMIN_URL with that database). */
export async function ensureDatabase(database: string): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  return PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
}

/** (Re)creates the test database with the clinical schema. Idempotent per test run. */
export async function ensureClinicDatabase(database = TEST_DB): Promise<string> {
  const url = await ensureDatabase(database);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(seedScript(generateClinic(60)));
    // The keyed masking functions (hash, fakes) that `gatehouse db setup` installs.
    await setupMaskFunctions(db, { grantTo: 'postgres' });
  } finally {
    await db.end();
  }
  return url;
}

export interface TestGateway {
  gw: RunningGateway;
  port: number;
  keyDir: string;
  auditFile: string;
  workDir: string;
  upstreamUrl: string;
  token(subject: string, groups: string[], ttlSeconds?: number): Promise<string>;
  client(token: string, extra?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  audit(): AuditRecord[];
  /** The audit records once `done` holds for them (outcomes are written just after a statement). */
  auditUntil(done: (records: AuditRecord[]) => boolean): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  engine?: EngineKind;
  upstreamUrl?: string;
  tls?: { mode: 'allow' | 'require'; cert: string; key: string };
  plaintextPassword?: 'never' | 'loopback' | 'always';
  maxMessageBytes?: number;
  policiesDir?: string;
  /** Start the admin listener (policy status, /metrics, /healthz, /readyz) on a free port. */
  admin?: boolean;
  /** More admin settings (file keys), e.g. { read_token: ... }; implies `admin`. */
  adminSettings?: Record<string, unknown>;
  /** The audit file (default <work dir>/audit.ndjson). */
  auditFile?: string;
  /** Catalog snapshot timing (default: the gateway's). */
  catalog?: StartOptions['catalog'];
  /** The evaluation budget, ms of CPU time (default a generous 5000). */
  evalTimeoutMs?: number;
  /** policies.eval_cooldown_ms (default the gateway's). */
  evalCooldownMs?: number;
  /** Where approval requests are kept (default memory). */
  approvalsStore?: 'memory' | 'postgres';
  /** More approvals settings (file keys), e.g. { notifications: [...] }. */
  approvalsSettings?: Record<string, unknown>;
  /** Where policy evaluations run (default: the gateway's own choice). */
  evaluator?: PolicyEvaluator;
  /** Verdicts shared by the gateway's sessions (default: the gateway's own cache). */
  decisionCache?: DecisionCache;
  /** More of the config's audit section (signing_key, checkpoint_interval_s, ...). */
  audit?: Record<string, unknown>;
  /** Use this audit sink instead of one the gateway opens on auditFile (the test opens and closes it). */
  auditSink?: AuditSink;
  /** Receives the operator log's error-level messages. */
  onError?: (message: string) => void;
  /** upstream.pool (file keys), e.g. { max_connections: 1 }: session pooling of upstream connections. */
  pool?: Record<string, unknown>;
  /** Receives the operator log's messages. */
  onInfo?: (message: string) => void;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const engine = options.engine ?? 'rego';
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-'));
  const keyDir = join(workDir, 'keys');
  const keys = await ensureDevKeys(keyDir);
  const auditFile = options.auditFile ?? join(workDir, 'audit.ndjson');
  const upstreamUrl = options.upstreamUrl ?? (await ensureClinicDatabase());
  const config = configFromObject(
    {
      listen: { host: '127.0.0.1', port: 0 },
      tls: options.tls ? { mode: options.tls.mode, cert: options.tls.cert, key: options.tls.key } : { mode: 'disable' },
      auth: {
        issuer: keys.issuer,
        audience: keys.audience,
        algorithms: [DEV_ALGORITHM],
        jwks: { file: keys.jwksPath },
        plaintext_password: options.plaintextPassword ?? 'loopback',
      },
      upstream: { url: upstreamUrl, pass_database: false, ...(options.pool ? { pool: options.pool } : {}) },
      // A generous budget: the shared test machine is noisy, and no test may depend on timing.
      policies: { engine, directory: options.policiesDir ?? join(REPO_ROOT, 'policies', engine), eval_timeout_ms: options.evalTimeoutMs ?? 5000, ...(options.evalCooldownMs === undefined ? {} : { eval_cooldown_ms: options.evalCooldownMs }) },
      audit: { file: auditFile, ...options.audit },
      ...(options.admin === true || options.adminSettings ? { admin: { host: '127.0.0.1', port: 0, ...options.adminSettings } } : {}),
      ...(options.approvalsStore || options.approvalsSettings ? { approvals: { ...(options.approvalsStore ? { store: options.approvalsStore } : {}), ...options.approvalsSettings } } : {}),
      ...(options.maxMessageBytes ? { limits: { max_message_bytes: options.maxMessageBytes } } : {}),
    },
    workDir,
  );
  const gw = await startGateway(config, {
    ...(options.catalog ? { catalog: options.catalog } : {}),
    ...(options.evaluator ? { evaluator: options.evaluator } : {}),
    ...(options.decisionCache ? { decisionCache: options.decisionCache } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.onInfo ? { onInfo: options.onInfo } : {}),
    ...(options.auditSink ? { audit: options.auditSink } : {}),
  });
  const clients: pg.Client[] = [];
  return {
    gw,
    port: gw.port,
    keyDir,
    auditFile,
    workDir,
    upstreamUrl,
    token: (subject, groups, ttlSeconds = 3600) => mintDevToken({ keyDir, subject, groups, ttlSeconds }),
    client: async (token, extra = {}) => {
      const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'agent', database: 'postgres', password: token, ...extra });
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    audit: () => readAudit(auditFile),
    auditUntil: async (done) => {
      for (let i = 0; i < 200; i++) {
        const records = readAudit(auditFile);
        if (done(records)) return records;
        await new Promise((r) => setTimeout(r, 25));
      }
      return readAudit(auditFile);
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await gw.close();
    },
  };
}

/** A statement's text as the audit log records it: literals replaced by $n placeholders (audit/redact.ts). */
export function recorded(sql: string): string {
  return redactStatementText(sql, true);
}

/** The text of an audit log without the zero tail a live durable log ends in (audit/unused-tail.ts). */
export function auditText(file: string): string {
  const text = readFileSync(file, 'utf8');
  const nul = text.indexOf('\0');
  return nul < 0 ? text : text.slice(0, nul);
}

export function readAudit(file: string): AuditRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !isUnusedTail(l)) // a live durable log ends in its preallocated zeros
    .map((l) => JSON.parse(l) as AuditRecord);
}

/** Runs a query and returns the error's SQLSTATE, or null when it succeeded. */
export async function sqlstateOf(client: pg.Client, sql: string, params?: unknown[]): Promise<string | null> {
  try {
    await client.query(sql, params);
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-sqlstate';
  }
}

/** Connects with node-postgres and returns the SQLSTATE of the refusal, or null if it got in. */
export async function connectSqlstate(config: pg.ClientConfig): Promise<string | null> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.end();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-sqlstate';
  }
}

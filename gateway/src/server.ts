// Starts a Gatehouse listener from a validated config: accepts connections, authenticates them,
// connects each to the upstream database with Gatehouse's own credentials, and runs a Session.
//
// This module puts the parts together in order and undoes them on a failed start; the parts are:
// policy/start-engines.ts (worker pool, engine source), audit/configured-keys.ts, pg/tls-context.ts,
// pg/client-connection.ts (one connection, login to Session), admin/start-admin.ts.

import { createServer, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { AdminServer } from './admin/admin-server.ts';
import { openApprovals, type Approvals } from './approvals/open.ts';
import { ReconnectNotices } from './approvals/reconnect-notice.ts';
import { loadCheckpointSigner, type CheckpointSigner } from './audit/checkpoint.ts';
import { breakGlassSealer, disclosuresOf } from './audit/configured-keys.ts';
import { openConfiguredAuditSink } from './audit/open-sink.ts';
import { redactRecord } from './audit/redact.ts';
import type { AuditSink } from './audit/types.ts';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.ts';
import type { GatehouseConfig } from './config/types.ts';
import type { EngineSource } from './enforce/decision-context.ts';
import { DecisionCache } from './enforce/decision-cache.ts';
import type { PolicyEvaluator } from './policy/evaluate.ts';
import { startPolicies, type StartedPolicies } from './policy/start-engines.ts';
import { CancelRegistry } from './pg/cancel-registry.ts';
import { LoginHello } from './pg/login-hello.ts';
import { CatalogResolver, type CatalogOptions } from './pg/catalog.ts';
import type { SnapshotStats } from './pg/catalog-snapshot.ts';
import { serveConnection } from './pg/client-connection.ts';
import { MaskFunctionNotes } from './pg/mask-function-notes.ts';
import type { Session } from './pg/session.ts';
import { UpstreamSystemRelations } from './pg/system-relations-loader.ts';
import { tlsContextFor } from './pg/tls-context.ts';
import { DirectUpstreams } from './pg/upstream-direct.ts';
import type { UpstreamSource } from './pg/upstream-lease.ts';
import { UpstreamPool } from './pg/upstream-pool.ts';
import { parseConnectionUrl } from './pg/upstream/connection-url.ts';
import { createGatewayMetrics } from './metrics/gateway-metrics.ts';
import { observeAuditSink } from './metrics/observed-audit-sink.ts';
import { observeEngines } from './metrics/observed-engines.ts';
import type { ActivationResult } from './policy/repo/git-policy-source.ts';
import type { PolicyStatus } from './policy/repo/status.ts';
import type { PolicyEngine } from './policy/types.ts';
import { clearAnalyzeCache, loadSqlParser } from './sql/parser.ts';

export interface RunningGateway {
  host: string;
  port: number;
  /** The engine deciding right now (its revision is stamped into every decision). */
  engine(): PolicyEngine;
  /** Number of client sessions currently open. */
  sessions(): number;
  /**
   * With policies.git: fetch, and activate the followed commit if it is new and passes (the same
   * as SIGHUP or POST /policy/refresh, but awaited). Null when policies do not come from git.
   */
  refreshPolicies(trigger?: 'signal' | 'api'): Promise<ActivationResult> | null;
  /** With policies.git: active commit, last refusal, what is followed; null otherwise. */
  policyStatus(): PolicyStatus | null;
  /** The admin listener's port (config.admin), or null when there is none. */
  adminPort: number | null;
  /** Checkpoints and reopens the audit file (after log rotation) when the sink supports it. */
  reopenAudit(): Promise<void>;
  /** Approval requests, answers and grants (docs/approvals.md). */
  approvals: Approvals;
  /** Catalog snapshot reads per database served so far (for tests and status). */
  catalogStats(): Map<string, { relations: SnapshotStats; routines: SnapshotStats }>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Called with one-line human-readable progress messages (listening, policy loaded...). */
  onInfo?: (message: string) => void;
  /** Called with problems the operator must act on (the audit log cannot be written); default onInfo. */
  onError?: (message: string) => void;
  /** Use this engine source instead of loading config.policies (the git policy source plugs in here). */
  engines?: EngineSource;
  /** Use this audit sink instead of opening config.audit.file. */
  audit?: AuditSink;
  /** How catalog snapshots are read and refreshed (tests and the bench shorten them; pg/catalog.ts). */
  catalog?: Pick<CatalogOptions, 'readTimeoutMs' | 'timing' | 'changeWaitMs' | 'peers' | 'lockPollMs' | 'peerBudget'>;
  /** Where policy evaluations run (default: a pool of worker threads, policy/eval-pool.ts). */
  evaluator?: PolicyEvaluator;
  /** Verdicts shared by all sessions (default: a new DecisionCache; tests that count evaluations pass an empty one). */
  decisionCache?: DecisionCache;
}

export async function startGateway(config: GatehouseConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const info = options.onInfo ?? (() => undefined);
  await loadSqlParser();
  // Relation names of pg_catalog and information_schema, to resolve unqualified names as PostgreSQL
  // does (sql/table-ref.ts); read again at the next connection if the database is down now.
  const systemRelations = new UpstreamSystemRelations(config.upstream.url, config.upstream.connectTimeoutMs, info, clearAnalyzeCache);
  await systemRelations.ensure();
  // Gauges are read at scrape time, from state set up below.
  let openSessions = (): number => 0;
  let upstreamConnections = (): number => 0;
  let activeEngine = (): PolicyEngine | null => null;
  // One for all sessions: a verdict reached for one session is reused by the next with the same claims.
  const decisionCache = options.decisionCache ?? new DecisionCache();
  const metrics = createGatewayMetrics({
    decisionCache: () => decisionCache.stats(),
    sessions: () => openSessions(),
    upstreamConnections: () => upstreamConnections(),
    policy: () => {
      const engine = activeEngine();
      return engine === null ? null : { engine: engine.kind, revision: engine.revision };
    },
  });
  // Opened before the policies, so that the first activation (or refusal) is audited.
  const onError = options.onError ?? info;
  const signer: CheckpointSigner | null = config.audit.signingKeyFile ? await loadCheckpointSigner(config.audit.signingKeyFile) : null;
  const seal = breakGlassSealer(config.audit.breakGlassKeyFile ?? null);
  const disclosures = disclosuresOf(config, info);
  if (disclosures) info(`audit: subjects of rows returned or written are recorded (hashed) for ${[...disclosures.phi.keys()].join(', ')}`);
  if (seal) info(`audit: statements as sent, with their parameters, are sealed to the break-glass key ${config.audit.breakGlassKeyFile}`);
  if (signer === null && !options.audit) info('audit: no signing key (audit.signing_key): the log is hash-chained but its checkpoints are not signed');
  const audit = observeAuditSink(
    options.audit ??
      (await openConfiguredAuditSink(config, {
        signer,
        checkpointIntervalMs: (config.audit.checkpointIntervalSeconds ?? 60) * 1000,
        ...(config.audit.redactLiterals === false ? {} : { redact: redactRecord }),
        onRotated: (file) => info(`audit: rotated the log to ${file}; ${config.audit.file} continues the chain`),
        onProblem: (level, message) => (level === 'error' ? onError(message) : info(message)),
        onInfo: info,
      })),
    metrics,
  );
  let started: StartedPolicies;
  try {
    started = await startPolicies(config, options, { audit: (record) => audit.write(record), metrics, info });
  } catch (e) {
    if (!options.audit) await audit.close();
    throw e;
  }
  const { gitSource, pool, sessionEvaluator } = started;
  /** Undoes what started so far when a later step of startup fails. */
  let closeApprovals = async (): Promise<void> => undefined;
  const abandon = async (e: unknown): Promise<never> => {
    await closeApprovals();
    await gitSource?.stop();
    await pool?.close();
    if (!options.audit) await audit.close();
    throw e;
  };
  const engines = observeEngines(started.engines, metrics);
  activeEngine = () => engines.current();
  info(`policy: ${engines.current().kind} engine, revision ${engines.current().revision}`);
  let tlsContext: SecureContext | null;
  let verifier: TokenVerifier;
  try {
    tlsContext = tlsContextFor(config);
    verifier = createTokenVerifier(config.auth, config.baseDir);
    // A broken JWKS file or URL fails here, at start, rather than at the first login.
    await verifier.warm();
  } catch (e) {
    return abandon(e);
  }
  let approvals: Approvals;
  try {
    approvals = await openApprovals(config, {
      audit: (record) => audit.write(record),
      activeRevision: () => engines.current().revision,
      onInfo: info,
      countNotification: (target, outcome) => metrics.approvalNotifications.labels({ target, outcome }).inc(),
    });
    closeApprovals = () => approvals.close();
  } catch (e) {
    return abandon(e);
  }
  const upstreamTarget = parseConnectionUrl(config.upstream.url);
  // Session pooling when upstream.pool is configured (docs/data-path.md#upstream-connection-pool).
  const upstreams: UpstreamSource =
    config.upstream.pool === null
      ? new DirectUpstreams({ url: config.upstream.url, connectTimeoutMs: config.upstream.connectTimeoutMs })
      : new UpstreamPool({ url: config.upstream.url, role: upstreamTarget.user, connectTimeoutMs: config.upstream.connectTimeoutMs, pool: config.upstream.pool, log: info });
  upstreamConnections = () => upstreams.connections();
  const catalogs = new Map<string, CatalogResolver>();
  const sessions = new Set<Session>();
  openSessions = () => sessions.size;
  const sockets = new Set<Socket>();

  const catalogFor = (database: string): CatalogResolver => {
    let c = catalogs.get(database);
    if (!c) {
      c = new CatalogResolver({ peers: true, ...options.catalog, connectionString: config.upstream.url, database: config.upstream.passDatabase ? database : null, log: info });
      catalogs.set(database, c);
    }
    return c;
  };

  const connection = {
    config,
    tlsContext,
    verifier,
    cancels: new CancelRegistry(),
    upstreamTarget,
    upstreams,
    catalogFor,
    systemRelations,
    loginHello: new LoginHello(),
    maskNotes: new MaskFunctionNotes(info),
    engines,
    audit,
    sessionEvaluator,
    decisionCache,
    approvals,
    reconnectNotices: new ReconnectNotices(approvals.service),
    seal,
    disclosures,
    upstreamConnectFailed: () => metrics.upstreamConnectFailures.inc(),
    sessions,
    sockets,
    info,
    onError,
  };
  const server: Server = createServer((socket) => {
    serveConnection(socket, connection).catch((e: unknown) => {
      // Last line of defence: one connection's failure never takes the process down.
      info(`connection error: ${e instanceof Error ? e.message : String(e)}`);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  }).catch(abandon);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  info(`listening on ${config.listen.host}:${port} (tls ${config.tls.mode}), upstream ${upstreamTarget.host}:${upstreamTarget.port}`);

  const refreshPolicies = (trigger: 'signal' | 'http' | 'api'): Promise<ActivationResult> | null => gitSource?.refresh(trigger) ?? null;
  const policyStatus = (): PolicyStatus | null => gitSource?.status() ?? null;
  let admin: AdminServer | null = null;
  if (config.admin !== null) {
    try {
      // Loaded only when configured: its routes and pages (approvals, audit, policy) are not otherwise needed.
      const { startAdmin } = await import('./admin/start-admin.ts');
      admin = await startAdmin(config, config.admin, {
        engines,
        policyStatus,
        refreshPolicies: () => refreshPolicies('http'),
        audit,
        metrics,
        signer,
        approvals,
        verifier,
        info,
      });
    } catch (e) {
      server.close();
      return abandon(e);
    }
    approvals.setPageUrl(config.approvals.pageUrl ?? `http://${config.admin.host}:${admin.port}/approvals`);
  }

  return {
    host: config.listen.host,
    port,
    engine: () => engines.current(),
    sessions: () => sessions.size,
    refreshPolicies: (trigger = 'api') => refreshPolicies(trigger),
    policyStatus,
    adminPort: admin?.port ?? null,
    reopenAudit: () => audit.reopen(),
    approvals,
    catalogStats: () => new Map([...catalogs].map(([db, c]) => [db, { relations: c.relations.stats(), routines: c.routines.stats() }])),
    close: async () => {
      await gitSource?.stop();
      await admin?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.shutdown();
        for (const s of sockets) s.destroy();
      });
      await upstreams.close();
      await Promise.all([...catalogs.values()].map((c) => c.close()));
      await pool?.close();
      await approvals.close();
      if (!options.audit) await audit.close();
    },
  };
}

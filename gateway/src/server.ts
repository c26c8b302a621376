// Starts a Gatehouse listener from a validated config: accepts connections, authenticates them,
// connects each to the upstream database with Gatehouse's own credentials, and runs a Session.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { startAdminServer, type AdminServer } from './admin/admin-server.ts';
import { healthRoutes } from './admin/health-routes.ts';
import { policyRoutes } from './admin/policy-routes.ts';
import { guardReads } from './admin/read-auth.ts';
import { approvalRoutes } from './approvals/http-routes.ts';
import { openApprovals, type Approvals } from './approvals/open.ts';
import { DISCONNECT_REASON, ReconnectNotices } from './approvals/reconnect-notice.ts';
import { createSessionGate } from './approvals/statement-gate.ts';
import { createReadiness } from './admin/readiness.ts';
import { auditRoutes } from './admin/audit-routes.ts';
import { loadCheckpointSigner, type CheckpointSigner } from './audit/checkpoint.ts';
import { createSealer, loadBreakGlassKeyFile, type Sealer } from './audit/seal.ts';
import { openSubjectKey, subjectHasher } from './audit/subjects.ts';
import type { Disclosures } from './enforce/subject-columns.ts';
import { openSessionRecorder } from './audit/session-recording.ts';
import { openConfiguredAuditSink } from './audit/open-sink.ts';
import { redactRecord } from './audit/redact.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord, type AuditSink } from './audit/types.ts';
import { createTokenVerifier } from './auth/token-verifier.ts';
import type { GatehouseConfig } from './config/types.ts';
import { warmUpEngine, warmUpInputs } from './enforce/engine-warm-up.ts';
import type { EngineSource } from './enforce/decision-context.ts';
import { DecisionCache } from './enforce/decision-cache.ts';
import { GatehouseError } from './errors.ts';
import { checkEvaluationBudget, checkRecordedInputs, recordedInputs, type BudgetCheck } from './policy/budget-gate.ts';
import { recentRecordedInputs } from './audit/recorded-inputs.ts';
import { EvalAdmission } from './policy/eval-admission.ts';
import { EVAL_WORKERS, EvalPool } from './policy/eval-pool.ts';
import { bundleEvalWorker, type EvalWorkerBundle } from './policy/eval-worker-bundle.ts';
import type { PolicyEvaluator } from './policy/evaluate.ts';
import { CancelRegistry } from './pg/cancel-registry.ts';
import { LoginHello } from './pg/login-hello.ts';
import { CatalogResolver, type CatalogOptions } from './pg/catalog.ts';
import type { SnapshotStats } from './pg/catalog-snapshot.ts';
import { clientHandshake } from './pg/client-handshake.ts';
import { errorMessageFor, Session } from './pg/session.ts';
import { UpstreamSystemRelations } from './pg/system-relations-loader.ts';
import { unsafeSessionError, unsafeStartupParameter } from './sql/session-invariants.ts';
import { sendCancel } from './pg/upstream/cancel.ts';
import { DirectUpstreams } from './pg/upstream-direct.ts';
import { socketDeparture, type UpstreamLease, type UpstreamSource } from './pg/upstream-lease.ts';
import { isPoolRefusal, UpstreamPool } from './pg/upstream-pool.ts';
import { parseConnectionUrl } from './pg/upstream/connection-url.ts';
import { createGatewayMetrics } from './metrics/gateway-metrics.ts';
import { observeAuditSink } from './metrics/observed-audit-sink.ts';
import { observeEngines } from './metrics/observed-engines.ts';
import { probeUpstream } from './pg/upstream/probe.ts';
import { loadPolicyEngine } from './policy/load.ts';
import { readPolicyFiles } from './policy/policy-files.ts';
import { reviewWarnings, warningText } from './policy/review-warnings.ts';
import { GitPolicySource, type ActivationResult } from './policy/repo/git-policy-source.ts';
import type { PolicyStatus } from './policy/repo/status.ts';
import type { Identity, PolicyEngine } from './policy/types.ts';
import { clearAnalyzeCache, loadSqlParser } from './sql/parser.ts';
import { errorResponse, noticeResponse } from './wire/backend.ts';
import { recordTime } from './audit/record-time.ts';

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

/** Startup parameters a client may pass through to the upstream session; all others are dropped. */
const PASSTHROUGH_PARAMS = ['client_encoding', 'DateStyle', 'TimeZone', 'extra_float_digits', 'IntervalStyle', 'search_path'];

/** An engine source that always answers with one engine (a policy directory loaded at start). */
export class FixedEngine implements EngineSource {
  constructor(private readonly engine: PolicyEngine) {}
  current(): PolicyEngine {
    return this.engine;
  }
}

/** The sealer for audit.breakglass_key, or null without one; a key that cannot be used stops the start. */
function breakGlassSealer(file: string | null): Sealer | null {
  if (file === null) return null;
  try {
    return createSealer(loadBreakGlassKeyFile(file));
  } catch (e) {
    throw new GatehouseError('CONFIG_INVALID', `audit.breakglass_key ${file}: ${(e as Error).message} (make one with: gatehouse audit keygen --breakglass --out DIR)`);
  }
}

/** audit.phi_tables with its key, or null without PHI tables; a key that cannot be read stops the start. */
function disclosuresOf(config: GatehouseConfig, info: (message: string) => void): Disclosures | null {
  const tables = Object.entries(config.audit.phiTables ?? {});
  if (tables.length === 0) return null;
  const file = config.audit.subjectKeyFile ?? null;
  if (file === null) throw new GatehouseError('CONFIG_INVALID', 'audit.phi_tables needs audit.subject_key (a file of random bytes: openssl rand -out subject.key 32)');
  try {
    const { key, created } = openSubjectKey(file);
    if (created) info(`audit: created the subject key ${file} (keep it, and keep it secret: audit disclosures needs it)`);
    return { phi: new Map(tables), hash: subjectHasher(key), cap: config.audit.subjectsMax ?? 1000 };
  } catch (e) {
    throw new GatehouseError('CONFIG_INVALID', `audit.subject_key ${file}: ${(e as Error).message}`);
  }
}

/** GET /policy/status when policies come from a directory: what is loaded, nothing followed. */
function directoryStatus(engine: PolicyEngine, directory: string | null): unknown {
  return { engine: engine.kind, source: { directory }, active: { commit: engine.revision }, following: null };
}

function tlsContextFor(config: GatehouseConfig): SecureContext | null {
  if (config.tls.mode === 'disable') return null;
  if (!config.tls.certFile || !config.tls.keyFile) {
    throw new GatehouseError('CONFIG_INVALID', `tls.mode ${config.tls.mode} needs tls.cert and tls.key`);
  }
  try {
    return createSecureContext({
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      ciphers: config.tls.ciphers,
      minVersion: 'TLSv1.2',
      honorCipherOrder: true,
    });
  } catch (e) {
    if (e instanceof Error && /cipher/i.test(e.message)) {
      throw new GatehouseError('CONFIG_INVALID', `tls.ciphers: OpenSSL accepts none of "${config.tls.ciphers}" (${e.message})`);
    }
    throw e;
  }
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
  let gitSource: GitPolicySource | null = null;
  let engines: EngineSource;
  // Policy evaluations run in worker threads with a hard CPU-time deadline (policy/eval-pool.ts).
  const pool = options.evaluator ? null : new EvalPool({
    workers: EVAL_WORKERS,
    ...(await evalWorkerBundle(info)),
    warmUp: warmUpInputs,
    onInfo: info,
    // Evaluations in workers bypass the timed engine wrapper (metrics/observed-engines.ts).
    onEvaluated: (engine, micros) => metrics.evaluationSeconds.labels({ engine }).observe(micros / 1e6),
  });
  const evaluator: PolicyEvaluator = options.evaluator ?? pool!;
  // Sessions' evaluations in the worker pool go through admission per identity (activation checks do
  // not): one identity never holds every worker, and a shape it just ran over budget is refused for a
  // cool-down. An evaluator given by the caller (a test's) is used as it is.
  const sessionEvaluator: PolicyEvaluator =
    pool === null ? evaluator : new EvalAdmission(pool, { perIdentity: EVAL_WORKERS - 1, cooldownMs: config.policies.evalCooldownMs });
  // The policy serving now, for gated activation's recorded inputs (null until one serves).
  let serving: (() => PolicyEngine) | null = null;
  const servingNow = (): PolicyEngine | null => {
    try {
      return serving?.() ?? null;
    } catch {
      return null; // no commit active yet
    }
  };
  const budget: BudgetCheck = { evaluator, budgetMs: config.policies.evalTimeoutMs, current: servingNow, note: info };
  if (config.policies.activationSample > 0 && config.audit.sink === 'file') {
    const file = config.audit.file;
    budget.recorded = () =>
      recentRecordedInputs(file, config.policies.activationSample).catch((e: unknown) => {
        info(`policy: WARNING: the recorded statements of ${file} could not be read for the activation check (${e instanceof Error ? e.message : String(e)}); new policies are timed on their test inputs only`);
        return [];
      });
  }
  try {
    if (options.engines) {
      engines = options.engines;
    } else if (config.policies.git !== null) {
      gitSource = new GitPolicySource({
        engine: config.policies.engine,
        git: config.policies.git,
        onInfo: info,
        audit: (record) => audit.write(record),
        budget,
      });
      const source = gitSource;
      serving = () => source.current();
      await gitSource.start();
      engines = gitSource;
    } else {
      engines = new FixedEngine(
        await loadPolicyEngine({
          engine: config.policies.engine,
          directory: config.policies.directory,
          buildDir: join(config.baseDir, '.gatehouse', 'policy-build'),
        }),
      );
      const inputs = warmUpInputs().map((input) => ({ name: `the warm-up statement "${input.statement.text}"`, input }));
      const tested = await checkEvaluationBudget(budget, engines.current(), inputs);
      const gate = tested.ok ? await checkRecordedInputs(budget, engines.current(), await recordedInputs(budget)) : tested;
      if (!gate.ok) throw new GatehouseError('CONFIG_INVALID', `the policies in ${config.policies.directory} are too slow: ${gate.reason}`);
      warmUpEngine(engines.current());
      const language = config.policies.engine;
      for (const w of reviewWarnings(await readPolicyFiles(config.policies.directory, language), language)) info(`policy: WARNING: ${warningText(w)}`);
    }
  } catch (e) {
    await gitSource?.stop();
    await pool?.close();
    if (!options.audit) await audit.close();
    throw e;
  }
  /** Undoes what started so far when a later step of startup fails. */
  let closeApprovals = async (): Promise<void> => undefined;
  const abandon = async (e: unknown): Promise<never> => {
    await closeApprovals();
    await gitSource?.stop();
    await pool?.close();
    if (!options.audit) await audit.close();
    throw e;
  };
  engines = observeEngines(engines, metrics);
  activeEngine = () => engines.current();
  info(`policy: ${engines.current().kind} engine, revision ${engines.current().revision}`);
  let tlsContext: SecureContext | null;
  let verifier: ReturnType<typeof createTokenVerifier>;
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
  const reconnectNotices = new ReconnectNotices(approvals.service);
  const cancels = new CancelRegistry();
  const loginHello = new LoginHello();
  const upstreamTarget = parseConnectionUrl(config.upstream.url);
  // Session pooling when upstream.pool is configured (docs/data-path.md#upstream-connection-pool).
  const upstreams: UpstreamSource =
    config.upstream.pool === null
      ? new DirectUpstreams({ url: config.upstream.url, connectTimeoutMs: config.upstream.connectTimeoutMs })
      : new UpstreamPool({ url: config.upstream.url, role: upstreamTarget.user, connectTimeoutMs: config.upstream.connectTimeoutMs, pool: config.upstream.pool, log: info });
  upstreamConnections = () => upstreams.connections();
  const catalogs = new Map<string, CatalogResolver>();
  const superuserWarned = new Set<string>();
  const implementationLogged = new Set<string>();
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

  /**
   * A session record. A login that succeeded and a session that ended without a problem are
   * written soon (AuditSink.writeSoon): with the session's first statement record, which is made
   * durable before that statement is forwarded, or within the sink's short delay, or at close; a
   * new connection per transaction then costs one audit write instead of three. Refusals and
   * failures are written at once.
   */
  const auditSession = (
    sessionId: string,
    event: 'auth_ok' | 'auth_failed' | 'closed' | 'protocol_error',
    clientAddress: string,
    params: Record<string, string>,
    identity: Identity | null,
    reason: string | null,
  ): void => {
    const record: AuditRecord = {
      v: AUDIT_RECORD_VERSION,
      type: 'session',
      time: recordTime(),
      session_id: sessionId,
      event,
      client_address: clientAddress,
      application_name: params['application_name'] ?? '',
      identity: identity
        ? { subject: identity.subject, issuer: identity.issuer, groups: identity.groups, roles: identity.roles, name: identity.name }
        : null,
      reason,
    };
    try {
      if (reason === null && (event === 'auth_ok' || event === 'closed')) audit.writeSoon(record);
      else audit.write(record);
    } catch {
      // A failed session record cannot be surfaced to anyone but the operator log.
    }
  };

  const onConnection = async (raw: Socket): Promise<void> => {
    raw.setNoDelay(true);
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const sessionId = randomUUID();
    // Read once (a getpeername call each time): the session records and the decisions repeat it.
    const clientAddress = raw.remoteAddress ?? '';
    const hs = await clientHandshake(raw, {
      config,
      tlsContext,
      verifyToken: (token) => verifier.verify(token),
      onCancel: async (pid, key) => {
        const target = cancels.lookup(pid, key);
        if (!target) return;
        if (!cancels.cancelLocally(pid)) return; // nothing of the client's runs upstream (R9-3)
        const sent = sendCancel(upstreamTarget.host, upstreamTarget.port, target.processId, target.secretKey).catch(() => undefined);
        // A pooled backend serves no other client before this cancel is delivered.
        target.cancelling?.(sent);
        // Awaited: the client's cancel connection closes once the server has the cancel (R9-3).
        await sent;
      },
    });
    if (hs.kind === 'done') return;
    if (hs.kind === 'auth-failed') {
      auditSession(sessionId, 'auth_failed', clientAddress, hs.params, null, hs.reason);
      return;
    }
    const { socket, params, identity } = hs;
    const database = params['database'] ?? params['user'] ?? 'postgres';
    const applicationName = params['application_name'] ?? '';
    const unsafeStartup = unsafeStartupParameter(params);
    if (unsafeStartup !== null) {
      const error = unsafeSessionError(unsafeStartup, 'client-startup');
      socket.end(errorMessageFor(error));
      auditSession(sessionId, 'closed', clientAddress, params, identity, error.message);
      return;
    }
    let upstream: UpstreamLease;
    // A login waiting for a pooled connection stops waiting when its client goes away.
    const departure = socketDeparture(socket);
    try {
      const extraParams: Record<string, string> = {};
      for (const p of PASSTHROUGH_PARAMS) if (params[p] !== undefined) extraParams[p] = params[p]!;
      upstream = await upstreams.acquire(
        {
          database: config.upstream.passDatabase ? database : null,
          applicationName: applicationName ? `gatehouse:${applicationName}` : 'gatehouse',
          params: extraParams,
        },
        departure,
      );
    } catch (e) {
      if (isPoolRefusal(e)) {
        socket.end(errorMessageFor(e));
        auditSession(sessionId, 'closed', clientAddress, params, identity, e.message);
        return;
      }
      metrics.upstreamConnectFailures.inc();
      const message = e instanceof Error ? e.message : String(e);
      socket.end(
        errorResponse({
          severity: 'FATAL',
          sqlstate: '08006',
          message: `Gatehouse could not connect to the database: ${message}`,
          hint: 'The database behind Gatehouse is unavailable; try again later or tell the operator.',
        }),
      );
      auditSession(sessionId, 'closed', clientAddress, params, identity, `upstream connection failed: ${message}`);
      return;
    }
    const catalog = catalogFor(database);
    // The first session of a database waits for the routine and relation snapshots.
    try {
      await Promise.all([catalog.routines.ready(), catalog.relations.ready()]);
    } catch (e) {
      upstream.release({ kind: 'spent', why: 'login failed' });
      throw e;
    }
    const maskFunctions = catalog.relations.current()?.maskFunctions;
    if (maskFunctions?.implementation !== undefined && !implementationLogged.has(database)) {
      implementationLogged.add(database);
      info(
        `keyed masks in database "${database}" are computed by ${maskFunctions.implementation === 'c' ? 'the C extension gatehouse_mask' : 'PL/pgSQL (install the C extension gatehouse_mask to make them cheaper: docs/data-path.md, "Where the hash key lives")'}`,
      );
    }
    if (maskFunctions?.superuser === true && !superuserWarned.has(database)) {
      superuserWarned.add(database);
      info(
        `WARNING: Gatehouse's upstream role is a superuser in database "${database}": it could read the masking key, so masks rely on Gatehouse refusing every way to reach it. Connect with a role that is not a superuser (docs/data-path.md, "Where the hash key lives").`,
      );
    }
    await systemRelations.ensure(); // at once when already read
    if (socket.destroyed) {
      upstream.release({ kind: 'idle', leftover: upstream.initialBuffer, txStatus: 'I' });
      return;
    }
    const key = cancels.register({ processId: upstream.processId, secretKey: upstream.secretKey, cancelling: (sent) => upstream.cancelling(sent) });
    socket.write(loginHello.encode(upstream.parameters, key.processId, key.secretKey));
    auditSession(sessionId, 'auth_ok', clientAddress, params, identity, null);

    const sessionInfo = {
      id: sessionId,
      clientAddress,
      applicationName,
      database,
      user: params['user'] ?? '',
      tls: hs.tls,
    };
    const gate = createSessionGate({
      service: approvals.service,
      identity,
      session: sessionInfo,
      activeRevision: () => engines.current().revision,
      pageUrl: () => approvals.pageUrl(),
      reasonSetting: () => session.reasonSetting(),
      maxPendingPerSession: config.approvals.maxPendingPerSession,
      maxPendingPerIdentity: config.approvals.maxPendingPerIdentity,
      notice: (fields) => {
        session.emit(noticeResponse({ severity: 'NOTICE', sqlstate: '00000', ...fields }));
        session.flushClient();
      },
    });
    const recorder =
      config.audit.recordingsDir == null
        ? null
        : openSessionRecorder(
            sessionId,
            { subject: identity.subject, name: identity.name ?? null, application_name: applicationName, client_address: sessionInfo.clientAddress, database },
            { dir: config.audit.recordingsDir, maxRows: config.audit.recordingMaxRows ?? 100, onProblem: onError },
          );
    const session: Session = new Session(
      socket,
      upstream.socket,
      {
        decision: {
          identity,
          session: sessionInfo,
          // Not the client's search_path parameter: the session asks the server before deciding
          // anything (pg/session.ts), which also sees ALTER ROLE/DATABASE ... SET.
          searchPath: ['public'],
          engines,
          audit,
          evalTimeoutMs: config.policies.evalTimeoutMs,
          evaluator: sessionEvaluator,
          approvals: gate,
          cache: decisionCache,
          routines: catalog.routines,
          relations: catalog.relations,
          catalogChange: () => catalog.afterChange(),
          upstreamPid: upstream.processId,
          ...(seal ? { seal } : {}),
          ...(recorder ? { recorder } : {}),
          ...(disclosures ? { disclosures } : {}),
        },
        ...(recorder ? { recorder } : {}),
        catalog,
        maxMessageBytes: config.limits.maxMessageBytes,
        limits: config.limits,
        reuseUpstream: upstreams.reuses,
        upstreamParameter: (name, value) => upstream.reported(name, value),
        searchPathProbe: upstream.searchPathProbe,
        onClose: (problem, handback) => {
          recorder?.close();
          gate.withdrawAll(DISCONNECT_REASON);
          sessions.delete(session);
          // Keys withdrawn first: a cancel with them from now on reaches nothing, and the pool
          // waits for those already forwarded before the connection serves another client.
          cancels.unregister(key.processId);
          upstream.release(handback);
          if (problem !== null) info(`session ${sessionId} ended: ${problem}`);
          auditSession(sessionId, problem === null ? 'closed' : 'protocol_error', clientAddress, params, identity, problem);
        },
      },
      departure.received().length === 0 ? hs.leftover : Buffer.concat([hs.leftover, departure.received()]),
      upstream.initialBuffer,
    );
    sessions.add(session);
    // A statement of this identity's that was held when its connection dropped: say what became of it.
    void reconnectNotices
      .forLogin(identity, sessionId)
      .then((notices) => {
        if (notices.length === 0 || !sessions.has(session)) return;
        for (const n of notices) session.emit(noticeResponse({ severity: 'NOTICE', sqlstate: '00000', ...n }));
        session.flushClient();
      })
      .catch((e: unknown) => info(`approvals: reading dropped requests for session ${sessionId} failed: ${e instanceof Error ? e.message : String(e)}`));
    cancels.onLocalCancel(key.processId, () => {
      // Read before the wait ends: messages released by it must not be what the cancel stops.
      const upstreamToo = session.pending.clientWorkInFlight();
      gate.withdrawAll('the client cancelled the statement');
      session.cancelWait();
      return upstreamToo;
    });
  };

  const server: Server = createServer((socket) => {
    onConnection(socket).catch((e: unknown) => {
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
  let admin: AdminServer | null = null;
  if (config.admin !== null) {
    try {
      const readiness = createReadiness({
        policy: () => `${engines.current().kind} ${engines.current().revision}`,
        probeUpstream: () => probeUpstream(config.upstream.url, config.upstream.connectTimeoutMs),
        audit: () => audit.health(),
      });
      const routes = {
        ...policyRoutes({
          status: () => gitSource?.status() ?? directoryStatus(engines.current(), config.policies.directory),
          refresh: () => refreshPolicies('http'),
          refreshToken: config.admin.refreshToken,
          onInfo: info,
        }),
        ...healthRoutes(metrics.registry, readiness),
        ...auditRoutes(signer?.publicJwk ?? null),
        ...approvalRoutes({ service: approvals.service, verify: (token) => verifier.verify(token), activeRevision: () => engines.current().revision }),
      };
      const reads = { ...config.admin.reads, verifyToken: (jwt: string) => verifier.verify(jwt) };
      admin = await startAdminServer(config.admin, guardReads(routes, ['/policy/status', '/metrics'], reads), info);
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
    policyStatus: () => gitSource?.status() ?? null,
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

/** The evaluation workers' code compiled once (no tsx in each worker); without it, they run it through tsx. */
async function evalWorkerBundle(info: (message: string) => void): Promise<{ bundle?: EvalWorkerBundle }> {
  try {
    return { bundle: await bundleEvalWorker() };
  } catch (e) {
    info(`policy: the evaluation workers run their TypeScript through tsx (compiling them once failed: ${e instanceof Error ? e.message : String(e)})`);
    return {};
  }
}

// One client connection from accept to a running Session: the handshake (TLS, token, cancel
// requests), an upstream connection for it, the catalog snapshots of its database, the login's
// audit record, and the Session with its approvals gate, recorder and cancel key.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Approvals } from '../approvals/open.ts';
import { DISCONNECT_REASON, type ReconnectNotices } from '../approvals/reconnect-notice.ts';
import { createSessionGate } from '../approvals/statement-gate.ts';
import type { Sealer } from '../audit/seal.ts';
import { openSessionRecorder } from '../audit/session-recording.ts';
import { auditSession, type SessionEventFacts } from '../audit/session-record.ts';
import type { AuditSink } from '../audit/types.ts';
import type { TokenVerifier } from '../auth/token-verifier.ts';
import type { GatehouseConfig } from '../config/types.ts';
import type { DecisionCache } from '../enforce/decision-cache.ts';
import type { EngineSource } from '../enforce/decision-context.ts';
import type { Disclosures } from '../enforce/hidden-subjects.ts';
import type { PolicyEvaluator } from '../policy/evaluate.ts';
import type { Identity } from '../policy/types.ts';
import { unsafeSessionError, unsafeStartupParameter } from '../sql/session-invariants.ts';
import { errorResponse, noticeResponse } from '../wire/backend.ts';
import type { CancelRegistry } from './cancel-registry.ts';
import type { CatalogResolver } from './catalog.ts';
import { clientHandshake } from './client-handshake.ts';
import type { LoginHello } from './login-hello.ts';
import type { MaskFunctionNotes } from './mask-function-notes.ts';
import { errorMessageFor, Session } from './session.ts';
import type { UpstreamSystemRelations } from './system-relations-loader.ts';
import { sendCancel } from './upstream/cancel.ts';
import type { ConnectionSettings } from './upstream/connection-url.ts';
import { socketDeparture, type Departure, type UpstreamLease, type UpstreamSource } from './upstream-lease.ts';
import { isPoolRefusal } from './upstream-pool.ts';

/** Startup parameters a client may pass through to the upstream session; all others are dropped. */
const PASSTHROUGH_PARAMS = ['client_encoding', 'DateStyle', 'TimeZone', 'extra_float_digits', 'IntervalStyle', 'search_path'];

/** What every connection of a gateway shares. */
export interface ConnectionDeps {
  config: GatehouseConfig;
  tlsContext: SecureContext | null;
  verifier: Pick<TokenVerifier, 'verify'>;
  cancels: CancelRegistry;
  upstreamTarget: Pick<ConnectionSettings, 'host' | 'port'>;
  upstreams: UpstreamSource;
  catalogFor: (database: string) => CatalogResolver;
  systemRelations: Pick<UpstreamSystemRelations, 'ensure'>;
  loginHello: LoginHello;
  maskNotes: MaskFunctionNotes;
  engines: EngineSource;
  audit: AuditSink;
  sessionEvaluator: PolicyEvaluator;
  decisionCache: DecisionCache;
  approvals: Approvals;
  reconnectNotices: ReconnectNotices;
  seal: Sealer | null;
  disclosures: Disclosures | null;
  /** Counts a login whose upstream connection failed (metrics). */
  upstreamConnectFailed: () => void;
  /** Sessions and client sockets open now (closed at shutdown). */
  sessions: Set<Session>;
  sockets: Set<Socket>;
  info: (message: string) => void;
  onError: (message: string) => void;
}

/** Serves one accepted connection until its Session runs (or the login fails); rejects only on a bug or a catalog failure. */
export async function serveConnection(raw: Socket, deps: ConnectionDeps): Promise<void> {
  const { config, cancels, upstreamTarget, info } = deps;
  raw.setNoDelay(true);
  deps.sockets.add(raw);
  raw.on('close', () => deps.sockets.delete(raw));
  raw.on('error', () => undefined);
  const sessionId = randomUUID();
  // Read once (a getpeername call each time): the session records and the decisions repeat it.
  const clientAddress = raw.remoteAddress ?? '';
  const record = (event: SessionEventFacts['event'], params: Record<string, string>, identity: Identity | null, reason: string | null): void =>
    auditSession(deps.audit, { sessionId, event, clientAddress, params, identity, reason });
  const hs = await clientHandshake(raw, {
    config,
    tlsContext: deps.tlsContext,
    verifyToken: (token) => deps.verifier.verify(token),
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
  if (hs.kind === 'auth-failed' || hs.kind === 'invalid') {
    record(hs.kind === 'invalid' ? 'protocol_error' : 'auth_failed', hs.params, null, hs.reason);
    return;
  }
  const { socket, params, identity } = hs;
  const database = params['database'] ?? params['user'] ?? 'postgres';
  const applicationName = params['application_name'] ?? '';
  const unsafeStartup = unsafeStartupParameter(params);
  if (unsafeStartup !== null) {
    const error = unsafeSessionError(unsafeStartup, 'client-startup');
    socket.end(errorMessageFor(error));
    record('closed', params, identity, error.message);
    return;
  }
  // A login waiting for a pooled connection stops waiting when its client goes away.
  const departure = socketDeparture(socket);
  const upstream = await acquireUpstream(socket, params, database, applicationName, departure, deps, (reason) => record('closed', params, identity, reason));
  if (upstream === null) return;
  const catalog = deps.catalogFor(database);
  // The first session of a database waits for the routine and relation snapshots.
  try {
    await Promise.all([catalog.routines.ready(), catalog.relations.ready()]);
  } catch (e) {
    upstream.release({ kind: 'spent', why: 'login failed' });
    throw e;
  }
  deps.maskNotes.note(database, catalog.relations.current()?.maskFunctions);
  await deps.systemRelations.ensure(); // at once when already read
  if (socket.destroyed) {
    upstream.release({ kind: 'idle', leftover: upstream.initialBuffer, txStatus: 'I' });
    return;
  }
  const key = cancels.register({ processId: upstream.processId, secretKey: upstream.secretKey, cancelling: (sent) => upstream.cancelling(sent) });
  socket.write(deps.loginHello.encode(upstream.parameters, key.processId, key.secretKey));
  record('auth_ok', params, identity, null);

  const sessionInfo = {
    id: sessionId,
    clientAddress,
    applicationName,
    database,
    user: params['user'] ?? '',
    tls: hs.tls,
  };
  const gate = createSessionGate({
    service: deps.approvals.service,
    identity,
    session: sessionInfo,
    activeRevision: () => deps.engines.current().revision,
    pageUrl: () => deps.approvals.pageUrl(),
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
          { dir: config.audit.recordingsDir, maxRows: config.audit.recordingMaxRows ?? 100, onProblem: deps.onError },
        );
  const { seal, disclosures, sessions } = deps;
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
        engines: deps.engines,
        audit: deps.audit,
        evalTimeoutMs: config.policies.evalTimeoutMs,
        evaluator: deps.sessionEvaluator,
        approvals: gate,
        cache: deps.decisionCache,
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
      reuseUpstream: deps.upstreams.reuses,
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
        record(problem === null ? 'closed' : 'protocol_error', params, identity, problem);
      },
    },
    departure.received().length === 0 ? hs.leftover : Buffer.concat([hs.leftover, departure.received()]),
    upstream.initialBuffer,
  );
  sessions.add(session);
  // A statement of this identity's that was held when its connection dropped: say what became of it.
  void deps.reconnectNotices
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
}

/**
 * An upstream connection for the login (direct, or from the pool), with the client's passthrough
 * parameters; null when there is none, after telling the client why and recording it (`closed`).
 */
async function acquireUpstream(
  socket: Socket,
  params: Record<string, string>,
  database: string,
  applicationName: string,
  departure: Departure,
  deps: ConnectionDeps,
  closed: (reason: string) => void,
): Promise<UpstreamLease | null> {
  try {
    const extraParams: Record<string, string> = {};
    for (const p of PASSTHROUGH_PARAMS) if (params[p] !== undefined) extraParams[p] = params[p]!;
    return await deps.upstreams.acquire(
      {
        database: deps.config.upstream.passDatabase ? database : null,
        applicationName: applicationName ? `gatehouse:${applicationName}` : 'gatehouse',
        params: extraParams,
      },
      departure,
    );
  } catch (e) {
    if (isPoolRefusal(e)) {
      socket.end(errorMessageFor(e));
      closed(e.message);
      return null;
    }
    deps.upstreamConnectFailed();
    const message = e instanceof Error ? e.message : String(e);
    socket.end(
      errorResponse({
        severity: 'FATAL',
        sqlstate: '08006',
        message: `Gatehouse could not connect to the database: ${message}`,
        hint: 'The database behind Gatehouse is unavailable; try again later or tell the operator.',
      }),
    );
    closed(`upstream connection failed: ${message}`);
    return null;
  }
}

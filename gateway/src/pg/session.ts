// One authenticated client session after startup: client messages in, decisions applied, upstream
// responses relayed back in order (with masking). Only this module and those it owns
// (pg/session-output.ts, pg/upstream-ending.ts) do I/O for a session.

import type { SessionRecorder } from '../audit/session-recording.ts';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { StatementOutcome } from '../audit/types.ts';
import type { SubjectsRecord } from '../audit/subjects.ts';
import { RESERVED_STATEMENT_PREFIX, type DecisionContext, type DecidedStatement, type QueryDecision } from '../enforce/decision-point.ts';
import { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { readyForQuery, type TransactionStatus } from '../wire/backend.ts';
import { MessageFramer, type Frame } from '../wire/framer.ts';
import { decodeFrontend, type FrontendMessage, encodeDescribe, encodeFlush, encodeParse, encodeQuery, encodeTerminate } from '../wire/frontend.ts';
import { WireError } from '../wire/wire-error.ts';
import { duplicateNameRefusal } from './duplicate-name.ts';
import { changesCatalog } from '../sql/catalog-changes.ts';
import type { CatalogResolver } from './catalog.ts';
import { isReservedName, reservedName } from './cursor-names.ts';
import type { DetectionCounts } from '../enforce/content-detectors.ts';
import { newResultContext, PendingQueue, type Pending, type Portal, type PreparedStatement, type ResultContext } from './pending.ts';
import { PortalTable } from './portal-table.ts';
import { errorMessageFor } from './error-message.ts';
import { ArrivalLocks } from './arrival-locks.ts';
import { parkingFor, stillParked, type Parked } from './statement-order.ts';
import { CopyInTracker } from './copy-in.ts';
import { FailedBlock } from './failed-block.ts';
import { auditFlushFailedError, protocolViolation, shuttingDownMessage, upstreamLostMessage } from './session-fatal.ts';
import { answeredByGatehouse, refusedExtendedUpstream, refusedQueryUpstream, type InPlaceOfRefused } from './refusals-in-order.ts';
import { withPinCheck } from './pin-check.ts';
import { bindUpstream, closeUpstream, describeUpstream, executeUpstream, queryUpstream, unknownStatement } from './upstream-messages.ts';
import { oversizedText, oversizedTextKeep, type StatementLimits } from './statement-limits.ts';
import { admit, cancelledWait, decideText, limitRefused } from './statement-admission.ts';
import { SEARCH_PATH_PROBE } from './search-path.ts';
import { SearchPathTracker } from './search-path-tracker.ts';
import { UpstreamRelay } from './upstream-relay.ts';
import { RevisionFence } from './revision-fence.ts';
import { HELD_BACKLOG_BYTES, SessionOutput } from './session-output.ts';
import { DecisionWait } from './decision-wait.ts';
import { SliceStop } from '../work-slices.ts';
import { attachUpstream, detachUpstream, endAfterServer, type UpstreamListeners } from './upstream-ending.ts';
import type { UpstreamHandback } from './upstream-lease.ts';
import { decodeParameterStatus } from '../wire/backend.ts';
import { notRunOutcome, outcomeRecord } from './statement-outcomes.ts';

export { errorMessageFor };

export interface SessionDeps {
  decision: DecisionContext;
  catalog: CatalogResolver;
  maxMessageBytes: number;
  /** Limits on the SQL one message may ask to parse and decide (pg/statement-limits.ts). */
  limits: StatementLimits;
  /**
   * `problem`: why the session was ended on a protocol violation or desynchronisation, else null.
   * `upstream`: the upstream connection handed back idle (only with reuseUpstream), or spent (destroyed).
   */
  onClose: (problem: string | null, upstream: UpstreamHandback) => void;
  /** Upstream connections are pooled: a client's Terminate is not forwarded, and an idle connection is handed back. */
  reuseUpstream?: boolean;
  /** Told every ParameterStatus relayed to the client (the pool keeps the connection's parameters). */
  upstreamParameter?: (name: string, value: string) => void;
  /** With audit.recordings_dir: told every message sent to the client (audit/session-recording.ts). */
  recorder?: Pick<SessionRecorder, 'clientMessage'>;
  /** The server's answer to SEARCH_PATH_PROBE, read when the upstream session was handed over (pg/upstream-lease.ts); else the session asks. */
  searchPathProbe?: string | null;
}


export class Session {
  readonly pending = new PendingQueue();
  readonly statements = new Map<string, PreparedStatement>();
  txStatus: TransactionStatus = 'I';
  readonly failedBlock = new FailedBlock();
  private readonly framer: MessageFramer;
  private readonly relay: UpstreamRelay;
  /** After an error in an extended-protocol batch, client messages are discarded until Sync. */
  private skipUntilSync = false;
  /** Something was forwarded upstream since the last Sync (its effects depend on the batch's fate). */
  private batchForwarded = false;
  /** When to ask the server for search_path, and what cannot be decided until it answers. */
  private readonly searchPath = new SearchPathTracker();
  /** Client messages wait in the framer while a search_path probe is outstanding. */
  private holdClient = false;
  /** A COPY FROM STDIN forwarded: starting (client messages wait) or copying data in (pg/copy-in.ts). */
  private readonly copyIn = new CopyInTracker();
  /** A client message waiting for upstream answers (pg/statement-order.ts); `released`: the frame just taken was one. */
  private parked: Parked | null = null;
  private released: Parked['on'] | null = null;
  /** A decision still to come (pg/decision-wait.ts): client messages after it wait in the framer, in order. */
  private readonly wait = new DecisionWait({ isClosed: () => this.closed, failed: (e) => this.protocolError(e), resumed: () => this.processClientFrames() });
  /** Upstream statement names: a random per-session prefix and a counter, never reused. */
  private readonly statementPrefix = `${RESERVED_STATEMENT_PREFIX}${randomUUID().slice(0, 8)}_`;
  private statementCounter = 0;
  /** Gatehouse's DO block of LOCKs ahead of extended-protocol messages (pg/arrival-locks.ts). */
  private readonly locks = new ArrivalLocks({
    pending: this.pending,
    sendUpstream: (m) => this.sendUpstream(m),
    searchPath: () => this.deps.decision.searchPath,
    relations: () => this.deps.catalog.relations.current(),
    lockName: `${this.statementPrefix}lock`,
    holdUpstream: () => this.out.holdUpstream(),
    releaseUpstream: () => this.out.releaseUpstream(),
    inFailedBlock: () => this.failedBlock.certainlyFailed,
  });
  /** Portals bound through Gatehouse (renamed upstream with the same prefix) and cursors DECLAREd by SQL. */
  readonly portals = new PortalTable(this.statementPrefix);
  readonly fence = new RevisionFence(() => this.deps.decision); // pg/revision-fence.ts
  private readonly out = new SessionOutput(this, (kind) => this.locks.answersAsked(kind));
  private closed = false;
  /** The session's listeners on the upstream socket, removed when a pooled connection is handed back. */
  private readonly upstreamListeners: UpstreamListeners;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    readonly deps: SessionDeps,
    initialClientBytes: Buffer,
    initialUpstreamBytes: Buffer,
  ) {
    // A Query over the statement size limit is refused from its first bytes; the rest is never buffered.
    this.framer = new MessageFramer(deps.maxMessageBytes, { truncate: oversizedTextKeep(deps.limits) });
    this.relay = new UpstreamRelay(this);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('error', () => this.close('client socket error', false, true));
    client.on('close', () => this.close('client closed', false, true));
    this.upstreamListeners = {
      data: (chunk: Buffer) => this.relay.onData(chunk),
      error: (e: Error) => this.upstreamLost(e),
      close: () => this.upstreamLost(null),
      drain: () => this.out.clientFlow('upstream', false),
    };
    attachUpstream(upstream, this.upstreamListeners);
    client.on('drain', () => {
      if (!this.closed) upstream.resume();
    });
    // The path the session starts with comes from the server, whatever set it (startup parameter,
    // ALTER ROLE/DATABASE ... SET, the server's default): asked before any client message is decided,
    // unless the pool already asked at checkout (an unreadable answer is asked again).
    if (deps.searchPathProbe != null && this.searchPath.takeProbe()) {
      const path = this.searchPath.probed(deps.searchPathProbe, 'I');
      if (path !== null) this.deps.decision.searchPath = path;
    }
    this.probeSearchPathIfStale();
    this.batchForwarded = false;
    this.out.flushUpstream();
    if (initialUpstreamBytes.length > 0) this.relay.onData(initialUpstreamBytes);
    if (initialClientBytes.length > 0) this.onClientData(initialClientBytes);
    if (!this.out.clientStopped()) client.resume();
    upstream.resume();
  }

  // ---- output, batched per received chunk, written upstream after the audit flush (pg/session-output.ts) ----

  emit(message: Buffer): void {
    this.out.emit(message);
  }

  get clientOutput(): SessionOutput {
    return this.out; // its holdClient, releaseHeld, dropHeld (pg/pin-check.ts)
  }

  emitFrame(frame: Frame): void {
    this.out.emitFrame(frame);
  }

  sendUpstream(message: Buffer): void {
    this.out.pushUpstream(message);
    this.batchForwarded = true;
  }

  flushSoon(): void {
    this.out.flushSoon();
  }

  flushClient(): void {
    this.out.flushClient();
  }

  /** The audit records of held statements may not be on disk: they are never sent, and the session ends. */
  auditFlushFailed(cause: Error): void {
    if (this.closed) return;
    this.emit(errorMessageFor(auditFlushFailedError(cause)));
    this.close(`audit flush failed: ${cause.message}`);
  }

  // ---- client → gateway ----

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    this.framer.push(chunk);
    this.processClientFrames();
  }

  /** Decides and forwards buffered client messages, unless they are held (see probeSearchPath). */
  private processClientFrames(): void {
    try {
      for (let frame = this.nextClientFrame(); frame; frame = this.nextClientFrame()) {
        this.onClientFrame(frame);
        if (this.closed) return;
      }
    } catch (e) {
      this.protocolError(e);
      return;
    }
    this.flushSoon();
    this.out.clientFlow('backlog', this.framer.buffered > HELD_BACKLOG_BYTES && this.nextClientFrameHeld());
  }

  private nextClientFrameHeld(): boolean {
    if (this.holdClient || this.wait.active || this.copyIn.state === 'starting') return true;
    return this.parked !== null && stillParked(this.parked, this.pending);
  }

  private nextClientFrame(): Frame | null {
    if (this.nextClientFrameHeld()) return null;
    const parked = this.parked;
    this.released = parked?.on ?? null;
    if (parked === null) return this.framer.next();
    this.parked = null;
    return parked.frame;
  }

  /**
   * A message that must wait for upstream answers (pg/statement-order.ts): set aside; a Flush goes up
   * so that the server sends the answers it holds back until a Sync or Flush.
   */
  private parkedBehind(frame: Frame, msg: FrontendMessage): boolean {
    const parked = parkingFor(frame, msg, { pending: this.pending, statements: this.statements, portals: this.portals, searchPath: this.deps.decision.searchPath });
    if (parked === null) return false;
    this.parked = parked;
    if (parked.on === 'statements ahead') this.out.pushUpstream(encodeFlush());
    return true;
  }

  /** A schema change made in this session committed: the database's snapshots are read again. */
  catalogChanged(): void {
    this.deps.catalog.changed();
  }

  /** The relay answered pending entries: a parked message may go on. */
  upstreamAnswered(): void {
    if (this.parked !== null && !this.closed && !stillParked(this.parked, this.pending)) this.processClientFrames();
  }

  private onClientFrame(frame: Frame): void {
    if (frame.truncated !== undefined) return this.onOversized(frame, frame.truncated.length);
    const msg = decodeFrontend(frame);
    if (this.copyIn.state === 'active' && this.duringCopyIn(msg.type, frame)) return;
    if (this.parkedBehind(frame, msg)) return;
    if (this.skipUntilSync && msg.type !== 'sync' && msg.type !== 'terminate') {
      if (msg.type === 'query') this.auditDiscarded(msg.sql, 'simple');
      if (msg.type === 'parse') this.auditDiscarded(msg.sql, 'extended');
      return;
    }
    switch (msg.type) {
      case 'query':
        return this.onQuery(msg.sql, frame.raw);
      case 'parse':
        return this.onParse(msg.name, msg.sql, msg.paramTypes, frame.raw);
      case 'bind': {
        if (isReservedName(msg.portal)) return this.refuseExtended(reservedName(msg.portal));
        const statement = this.statements.get(msg.statement);
        if (!statement) return this.refuseExtended(unknownStatement(msg.statement));
        const { portal, previous } = this.portals.bind(msg.portal, statement, msg.params, msg.resultFormats);
        const raw = bindUpstream(msg, frame.raw, statement, portal);
        this.locks.beforeBind(statement, this.released === 'statements ahead', portal);
        return this.forward(raw, { kind: 'bind', portal, previous });
      }
      case 'describe': {
        if (msg.target === 'P') {
          const target = this.portals.describeTarget(msg.name);
          if (target instanceof GatehouseError) return this.refuseExtended(target);
          if (target === null) return this.forward(frame.raw, { kind: 'describe', hidden: false, target: null, untracked: msg.name === '' });
          return this.forward(describeUpstream('P', msg.name, target.upstreamName, frame.raw), { kind: 'describe', hidden: false, target });
        }
        const statement = this.statements.get(msg.name);
        if (!statement) return this.refuseExtended(unknownStatement(msg.name));
        this.locks.beforeDescribe(statement);
        return this.forward(describeUpstream('S', msg.name, statement.upstreamName, frame.raw), { kind: 'describe', hidden: false, target: statement });
      }
      case 'execute':
        return this.onExecute(msg.portal, msg.maxRows, frame.raw);
      case 'close':
        if (msg.target === 'P') {
          if (isReservedName(msg.name)) return this.refuseExtended(reservedName(msg.name));
          // Closing a portal that does not exist is not an error in PostgreSQL; an untracked name
          // goes up as it is (at most a cursor this session DECLAREd: closing reveals nothing).
          const portal = this.portals.close(msg.name);
          return this.forward(portal ? closeUpstream('P', msg.name, portal.upstreamName, frame.raw) : frame.raw, { kind: 'close', portal });
        } else {
          // Closing a statement that does not exist is not an error in PostgreSQL.
          const statement = this.statements.get(msg.name) ?? null;
          this.statements.delete(msg.name);
          const upstreamName = statement?.upstreamName ?? `gatehouse.closed.${randomUUID()}`;
          return this.forward(closeUpstream('S', msg.name, upstreamName, frame.raw), { kind: 'close-statement', statement });
        }
      case 'sync':
        this.skipUntilSync = false;
        this.forward(frame.raw, { kind: 'sync' });
        this.probeSearchPathIfStale();
        this.batchForwarded = false;
        return;
      case 'flush':
      case 'copyData':
      case 'copyDone':
      case 'copyFail':
        this.out.frameUpstream(frame);
        return;
      case 'terminate':
        if (this.deps.reuseUpstream === true) {
          // The pooled connection stays open: handed back (and reset) when nothing is left in flight.
          if (this.out.toUpstream.isEmpty) this.close('client terminated', false, true);
          else this.out.flushUpstream(() => this.close('client terminated', false, true));
          return;
        }
        this.out.toUpstream.push(encodeTerminate());
        this.out.flushUpstream(() => this.close('client terminated'));
        return;
      case 'functionCall':
        return this.refuseExtended(
          new GatehouseError('FEATURE_NOT_SUPPORTED', 'Gatehouse does not allow fast-path function calls: they bypass SQL analysis', {
            hint: 'Call the function from a SQL statement instead (for large objects: SELECT lo_get(...)).',
          }),
        );
      case 'password':
        throw new WireError('unexpected password message after authentication');
      default: {
        const never: never = msg;
        throw new WireError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  private forward(raw: Buffer, expect: Pending): void {
    this.sendUpstream(raw);
    this.pending.push(expect);
    this.locks.forwarded(expect);
    this.fence.forwarded(expect);
    if (expect.kind === 'query' || expect.kind === 'execute') this.copyIn.forwarded(expect.ctx);
  }

  // ---- COPY FROM STDIN (pg/copy-in.ts) ----

  /** A client message while the server copies data in (CopyInTracker.clientMessage). Returns false for Terminate. */
  private duringCopyIn(type: FrontendMessage['type'], frame: Frame): boolean {
    const step = this.copyIn.clientMessage(type);
    if (step === 'forward') this.out.frameUpstream(frame);
    return step !== 'terminate';
  }

  /** The server answered a COPY FROM STDIN with CopyInResponse: client messages go up again. */
  copyInStarted(ctx: ResultContext): void {
    if (this.copyIn.started(ctx)) this.processClientFrames();
  }

  /** The request with a COPY FROM STDIN is over (done, failed or skipped): the server copies nothing in. */
  copyEnded(ctx: ResultContext): void {
    if (this.copyIn.ended(ctx)) this.processClientFrames();
  }

  /** A CancelRequest for this session: a statement still being decided is refused (57014) and never runs. */
  cancelWait(): void {
    if (this.closed) return;
    if (this.wait.cancel()) this.processClientFrames();
  }

  /** Applies a statement's decision when it comes (see hold); refusals keep the protocol's semantics. */
  private whenDecided(d: QueryDecision | Promise<QueryDecision>, protocol: 'simple' | 'extended', apply: (d: QueryDecision) => void, stop?: SliceStop): void {
    // Decided at once (a cached verdict): applied without the handlers a wait needs.
    if (!(d instanceof Promise)) return this.applyDecided(d, apply);
    this.wait.hold(d, {
      resume: (decided) => this.applyDecided(decided, apply),
      cancel: (error) => (protocol === 'simple' ? this.refuseSimple(error) : this.refuseExtended(error)),
      late: (decided) => this.recordRefused(decided.statements, cancelledWait(), this.closed ? 'aborted' : 'refused'),
    }, stop);
  }

  private applyDecided(decided: QueryDecision, apply: (d: QueryDecision) => void): void {
    // Upstream failed an earlier message of this batch while this one was decided: discarded, as
    // PostgreSQL would. A statement the policy refused is recorded as refused whichever came
    // first (the upstream error or the decision), so that its record does not depend on timing.
    if (this.skipUntilSync) return this.recordDiscarded(decided);
    apply(decided);
  }

  /**
   * A Query or Parse that PostgreSQL would discard (an earlier message of its batch failed) is
   * never sent, but it was attempted: it is decided (an `approve` opens no request) and audited,
   * with the same record whether the upstream error or the decision came first.
   */
  private auditDiscarded(text: string, protocol: 'simple' | 'extended'): void {
    const stop = new SliceStop();
    const d = decideText(this.deps, text, protocol, true, protocol === 'simple' ? [] : 'unbound', true, stop);
    this.wait.hold(d, { resume: (x) => this.recordDiscarded(x), cancel: () => {}, late: (x) => this.recordDiscarded(x) }, stop);
  }

  /** A refusal by policy is recorded as refused; any other statement as aborted (it did not run). */
  private recordDiscarded(d: QueryDecision): void {
    if (d.kind === 'refuse') return this.recordRefused(d.statements, d.error);
    this.recordRefused(d.statements, cancelledWait(), 'aborted');
  }

  /**
   * A Query or Parse whose text is over limits.max_statement_bytes, cut by the framer: refused (54000) and
   * audited from its first bytes, in order with the messages around it, as decide() would refuse it.
   */
  private onOversized(frame: Frame, length: number): void {
    const cut = oversizedText(frame, length, this.deps.limits);
    if (this.copyIn.state === 'active') this.copyIn.clientMessage(cut.protocol === 'simple' ? 'query' : 'parse'); // throws: ends the session
    if (this.skipUntilSync) return this.auditDiscarded(cut.head, cut.protocol); // after an error in a batch, as any Query or Parse
    const decided = limitRefused(this.deps.decision, cut.head, cut.error);
    if (cut.protocol === 'simple') this.whenDecided(decided, 'simple', (d) => this.queryDecided(d, frame.raw));
    else this.whenDecided(decided, 'extended', (d) => this.parseDecided(d, cut.name, cut.head, [], frame.raw, false));
  }

  private onQuery(sql: string, raw: Buffer): void {
    const stop = new SliceStop(); // set when the client cancels or leaves: a long string's decision ends at its next slice
    this.whenDecided(decideText(this.deps, sql, 'simple', true, [], false, stop), 'simple', (decided) => this.queryDecided(decided, raw), stop);
  }

  private queryDecided(decided: QueryDecision, raw: Buffer): void {
    const d = admit(decided, this.searchPath, this.fence);
    if (d.kind === 'refuse') {
      this.recordRefused(d.statements, d.error);
      this.refuseSimple(d.error);
      if (d.pathUnknown) {
        this.probeSearchPathIfStale(); // so that the next statement can be decided
        this.batchForwarded = false;
      }
      return;
    }
    // Masked tables replaced (enforce/mask-rewrite.ts); the relations checked locked first (enforce/lock-prefix.ts).
    const ctx = newResultContext(d.statements, d.masks);
    const prefix = d.lockPrefix;
    if (prefix !== null) ctx.lockPrefix = { prefix, left: prefix.statements };
    this.forward(withPinCheck(queryUpstream(raw, d.forwardText, prefix), ctx, d.functionPins), { kind: 'query', ctx });
    for (const name of d.cursors) this.portals.noteDeclared(name);
    this.noteSearchPathEffects(d.statements);
    this.probeSearchPathIfStale();
    // PostgreSQL ends the implicit transaction of an unsynced extended batch at a simple Query.
    this.batchForwarded = false;
  }

  private onParse(name: string, sql: string, paramTypes: number[], raw: Buffer): void {
    // A name in use is refused here, after what PostgreSQL reports first (pg/duplicate-name.ts).
    const duplicate = duplicateNameRefusal(name, sql, this.statements, this.deps.limits);
    if (duplicate !== null) return this.refuseExtended(duplicate);
    // Decided here so that a statement that cannot run is never prepared upstream; each Execute
    // is decided again (and audited) with the policy active at that moment.
    const lockAhead = this.released === 'statements ahead';
    const stop = new SliceStop();
    this.whenDecided(decideText(this.deps, sql, 'extended', false, 'unbound', false, stop), 'extended', (decided) => this.parseDecided(decided, name, sql, paramTypes, raw, lockAhead), stop);
  }

  private parseDecided(decided: QueryDecision, name: string, sql: string, paramTypes: number[], raw: Buffer, lockAhead: boolean): void {
    const d = admit(decided, this.searchPath, this.fence);
    if (d.kind === 'refuse') {
      this.recordRefused(d.statements, d.error);
      if (name === '') {
        // PostgreSQL drops the unnamed statement before it parses a new one, so after a failed
        // Parse there is none (a Describe or Bind of it gets 26000): the same here and upstream.
        const dropped = this.statements.get('') ?? null;
        this.statements.delete('');
        this.refuseExtended(d.error, { dropped });
      } else {
        this.refuseExtended(d.error);
      }
      return;
    }
    // Masks at the source: the statement is prepared upstream with its masked tables replaced.
    const preparedSql = d.forwardText ?? sql;
    const upstreamName = name === '' ? '' : `${this.statementPrefix}${++this.statementCounter}`;
    const statement: PreparedStatement = { name, upstreamName, sql, preparedSql, fields: null, subjects: d.statements[0]?.subjects ?? null };
    // The statement it replaces (only ever the unnamed one: a name in use is refused in onParse), put
    // back if the server skips this Parse (upstream-relay.ts undoNameChanges).
    const replaced = this.statements.get(name) ?? null;
    this.statements.set(name, statement);
    const unchanged = name === '' && d.forwardText === null;
    this.locks.beforeParse(statement, d, lockAhead); // waited for the statements ahead (pg/statement-order.ts), or locked on arrival
    this.forward(unchanged ? raw : encodeParse({ name: upstreamName, sql: preparedSql, paramTypes }), { kind: 'parse', statement, replaced });
  }


  private onExecute(portalName: string, maxRows: number, raw: Buffer): void {
    const portal = this.portals.target(portalName);
    if (portal instanceof GatehouseError) return this.refuseExtended(portal);
    if (portal === null) {
      // A cursor opened by a SQL DECLARE of this session, which was itself decided (and refused
      // when its rows would need masking). Protocol portals are never named so upstream.
      if (this.fence.refusesCursorExecute(portalName, (stale) => this.refuseExtended(stale))) return; // its cursor older than the policy
      this.forward(raw, { kind: 'execute', ctx: newResultContext([], []), portal: null });
      return;
    }
    const lockAhead = this.released === 'statements ahead';
    this.whenDecided(decideText(this.deps, portal.statement.sql, 'extended', true, portal.params ?? [], false, undefined, this.locks.approvalWouldHoldLocks(portal)), 'extended', (decided) =>
      this.executeDecided(decided, portal, maxRows, raw, portalName, lockAhead),
    );
  }

  private executeDecided(decided: QueryDecision, portal: Portal, maxRows: number, raw: Buffer, portalName: string, lockAhead: boolean): void {
    const sql = portal.statement.sql;
    const d = admit(decided, this.searchPath, this.fence);
    if (d.kind === 'refuse') {
      this.recordRefused(d.statements, d.error);
      this.refuseExtended(d.error);
      return;
    }
    if ((d.forwardText ?? sql) !== portal.statement.preparedSql) {
      // The masks decided now differ from those the statement was prepared with (the policy changed).
      const changed = new GatehouseError('FEATURE_NOT_SUPPORTED', 'the masks Gatehouse applies to this prepared statement changed since it was prepared (a new policy is active), so it was not run', {
        hint: 'Prepare the statement again.',
      });
      this.recordRefused(d.statements, changed);
      this.refuseExtended(changed);
      return;
    }
    const ctx = newResultContext(d.statements, d.masks);
    if (lockAhead) this.locks.beforeExecute(portal.statement, ctx);
    if ((ctx.masks.length > 0 || ctx.detections.length > 0) && portal.fields === null) {
      // Masking and content detection need the portal's columns; the client did not ask, so Gatehouse asks quietly.
      this.sendUpstream(encodeDescribe('P', portal.upstreamName));
      this.pending.push({ kind: 'describe', hidden: true, target: portal });
    }
    this.forward(executeUpstream(portal, portalName, maxRows, raw), { kind: 'execute', ctx, portal });
    for (const name of d.cursors) this.portals.noteDeclared(name);
    this.noteSearchPathEffects(d.statements);
  }

  /** A statement the client prepared or bound, never run because the lock ahead of it failed: decided again and audited as refused. */
  auditRefusedUnrun(sql: string, error: GatehouseError, reason: string): void {
    const record = (d: QueryDecision): void => this.recordRefused(d.statements, error, 'refused', reason);
    this.wait.hold(decideText(this.deps, sql, 'extended', true, 'unbound', true), { resume: record, cancel: () => undefined, late: record });
  }

  // ---- following search_path (pg/search-path.ts) ----

  private noteSearchPathEffects(statements: DecidedStatement[]): void {
    this.searchPath.noteForwarded(statements);
  }

  /**
   * After a batch that may have changed search_path, asks the server for the effective path right
   * behind it, and holds the client's next messages until the answer is in, so the next statement
   * is decided with its names qualified the way PostgreSQL will resolve them.
   */
  private probeSearchPathIfStale(): void {
    // A Query behind a COPY FROM STDIN would end the COPY as an error: asked after it instead.
    if (this.copyIn.state !== null || !this.searchPath.takeProbe()) return;
    this.sendUpstream(encodeQuery(SEARCH_PATH_PROBE));
    this.pending.push({ kind: 'search-path', value: null, failed: false });
    this.holdClient = true;
  }

  /** The session's `gatehouse.reason` setting as the server last said (the probe reads it along). */
  reasonSetting(): string | null {
    return this.searchPath.reason();
  }

  /** The probe's answer (null when it failed, e.g. in an aborted transaction: asked again later). */
  searchPathProbed(value: string | null): void {
    const path = this.searchPath.probed(value, this.txStatus);
    if (path !== null) this.deps.decision.searchPath = path;
    this.holdClient = false;
    this.processClientFrames();
  }

  // ---- refusals: in order with everything already in flight, and with PostgreSQL's semantics ----

  /**
   * A refused simple Query. When nothing is in flight, no transaction block is open and no
   * extended batch is waiting for its Sync, Gatehouse answers itself. Otherwise it sends upstream,
   * in place of the client's Query, a simple Query that cannot parse: it fails exactly where and
   * how the refused one would have (skipped if the server is skipping until Sync; else aborting
   * the transaction block until ROLLBACK, or the implicit transaction of the unsynced batch), and
   * Gatehouse shows the client its own error in place of upstream's, then relays ReadyForQuery.
   */
  private refuseSimple(error: GatehouseError): void {
    const message = errorMessageFor(error);
    // PostgreSQL drops the unnamed prepared statement at every simple Query, before it parses it;
    // upstream does too when the refusal goes up as REFUSAL_QUERY (a Bind of it then gets 26000),
    // unless the server skips it (an error earlier in the batch): then it is put back (droppedUnnamed).
    const droppedUnnamed = this.statements.get('') ?? null;
    this.statements.delete('');
    if (answeredByGatehouse(this.pending.length, this.txStatus, this.batchForwarded)) {
      this.emit(message);
      this.emit(readyForQuery(this.txStatus));
      return;
    }
    this.sendInPlace(refusedQueryUpstream(message, droppedUnnamed));
    this.batchForwarded = false;
  }

  /**
   * A refused extended-protocol message: error now (in order), then discard until Sync.
   * `unnamed`: for a refused Parse of the unnamed statement, which the failing message sent in its
   * place (when one is needed) also drops upstream, with the statement Gatehouse dropped (`dropped`,
   * put back if the server skips the failing message).
   */
  private refuseExtended(error: GatehouseError, unnamed: { dropped: PreparedStatement | null } | null = null): void {
    const message = errorMessageFor(error);
    this.skipUntilSync = true;
    if (answeredByGatehouse(this.pending.length, this.txStatus, this.batchForwarded)) {
      this.emit(message);
      return;
    }
    this.sendInPlace(refusedExtendedUpstream(message, unnamed));
  }

  /** A message that fails upstream in place of a refused one (pg/refusals-in-order.ts). */
  private sendInPlace(refused: InPlaceOfRefused): void {
    this.sendUpstream(refused.message);
    this.pending.push(refused.expect);
  }

  /**
   * Upstream failed an extended-protocol message and now discards everything until Sync; the
   * relay has dropped the pending entries of that stretch (PendingQueue.dropUntilSync). When the
   * client's Sync has not been forwarded yet, its messages until then would be discarded as well,
   * so Gatehouse discards them itself. A search_path probe sent in that stretch never ran.
   */
  upstreamSkipping(syncQueued: boolean, probeSkipped: boolean): void {
    if (!syncQueued) this.skipUntilSync = true;
    if (probeSkipped) {
      this.searchPath.markStale(); // asked again after the next Sync
      this.holdClient = false;
      this.processClientFrames();
    }
  }

  // ---- audit outcomes ----

  /** Completes a statement's audit trail; outcomes go out with the next record (see AuditSink.writeSoon). */
  writeOutcome(decision: Pick<Decision, 'id' | 'revision'>, outcome: StatementOutcome, detected: DetectionCounts = {}, subjects: SubjectsRecord | null = null): void {
    this.deps.decision.audit.writeSoon(outcomeRecord(this.deps.decision, decision, outcome, detected, subjects));
  }

  recordRefused(statements: readonly DecidedStatement[], error: GatehouseError, status: 'refused' | 'aborted' = 'refused', reason?: string): void {
    for (const s of statements) this.writeOutcome(s.decision, notRunOutcome(error, status, reason));
  }

  // ---- endings ----

  private protocolError(e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e); // a WireError is an Error
    this.out.toClient.clear();
    this.emit(protocolViolation(reason));
    this.terminateAndClose(`protocol violation: ${reason}`);
  }

  /**
   * Upstream sent a response the pending entry at the head cannot produce (pg/pending.ts
   * canProduce): from here on results could be attributed to the wrong statement and bypass its
   * masking, so nothing more is relayed and the session ends (audited as a protocol error).
   */
  endOnDesync(error: GatehouseError): void {
    this.emit(errorMessageFor(error));
    this.terminateAndClose(error.message);
  }

  /** Ends the session on a problem: the client hears what was queued, upstream only a Terminate. */
  private terminateAndClose(why: string): void {
    this.flushClient();
    this.out.toUpstream.clear();
    this.out.toUpstream.push(encodeTerminate());
    this.out.flushUpstream();
    this.close(why, true);
  }

  private upstreamLost(e: Error | null): void {
    if (this.closed) return;
    this.emit(upstreamLostMessage(e));
    this.flushClient();
    this.close('upstream closed');
  }

  /** The gateway is stopping: tell the client the way PostgreSQL does on a shutdown, then close. */
  shutdown(): void {
    if (this.closed) return;
    this.emit(shuttingDownMessage());
    this.close('gateway shutting down');
  }

  /** A ParameterStatus relayed to the client (the relay checked it first). */
  upstreamParameter(frame: Frame): void {
    if (this.deps.upstreamParameter === undefined) return;
    const { name, value } = decodeParameterStatus(frame.body);
    this.deps.upstreamParameter(name, value);
  }

  /**
   * Whether the upstream connection can serve another client after a reset: the client ended the
   * session (`clientEnded`), and the server has answered everything it was sent, with nothing
   * queued, waiting for the audit flush, copying in, or in an extended batch without its Sync
   * (whose implicit transaction a Sync would commit).
   */
  private handbackOf(clientEnded: boolean, problem: boolean): UpstreamHandback {
    if (this.deps.reuseUpstream !== true) return { kind: 'spent', why: 'not pooled' };
    if (problem || !clientEnded) return { kind: 'spent', why: 'the session did not end cleanly' };
    if (this.pending.length > 0) return { kind: 'spent', why: 'the client left while the server still owed answers' };
    if (!this.out.upstreamIdle || this.batchForwarded) return { kind: 'spent', why: 'messages were in flight' };
    if (this.copyIn.state !== null) return { kind: 'spent', why: 'in COPY' };
    if (this.upstream.destroyed) return { kind: 'spent', why: 'upstream closed' };
    const leftover = this.relay.handOver();
    if (leftover === null) return { kind: 'spent', why: 'the relay was busy' };
    return { kind: 'idle', leftover, txStatus: this.txStatus };
  }

  /**
   * Ends the session; `problem`: it ended on a protocol violation (audited as such, with `why`).
   * `clientEnded`: the client terminated or went away (a pooled connection may then be reused).
   */
  close(why: string, problem = false, clientEnded = false): void {
    if (this.closed) return;
    this.flushClient();
    const handback = this.handbackOf(clientEnded, problem);
    this.closed = true;
    this.wait.forget(); // a decision still to come is only audited when it arrives (hold: late)
    // A schema change whose answer (or whose transaction's end) the server still owes may commit
    // after the client left: the snapshots are read again all the same (red-team round 12, R12-4).
    let catalogMayChange = this.relay.catalogChangeOwed();
    for (let p = this.pending.shift(); p; p = this.pending.shift()) {
      if (p.kind === 'query' || p.kind === 'execute') {
        for (const s of p.ctx.statements.slice(p.ctx.index)) {
          if (s.decision.action !== 'deny' && s.parsed && changesCatalog(s.parsed.facts)) catalogMayChange = true;
          this.writeOutcome(s.decision, { status: 'aborted' });
        }
      }
    }
    this.client.end();
    this.client.destroySoon?.();
    if (catalogMayChange && handback.kind === 'spent') return this.closeAfterServer(problem ? why : null, handback);
    if (catalogMayChange) this.catalogChanged();
    if (handback.kind === 'idle') {
      this.upstream.pause();
      detachUpstream(this.upstream, this.upstreamListeners);
    } else {
      this.upstream.destroy();
    }
    this.deps.onClose(problem ? why : null, handback);
  }

  /**
   * The client left while the server still owed the answer to a schema change: the server runs it
   * (and commits it, when it commits) before it reads what follows, Terminate or the end of the
   * stream, and only then ends the connection. So the connection is ended from this side, its
   * answers discarded, and when the server has closed it the snapshots are read again and the
   * connection is released (at most UPSTREAM_END_WAIT_MS; red-team round 12, R12-4).
   */
  private closeAfterServer(problem: string | null, handback: UpstreamHandback): void {
    endAfterServer(this.upstream, this.upstreamListeners, () => {
      this.catalogChanged();
      this.deps.onClose(problem, handback);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

// One authenticated client session after startup: client messages in, decisions applied, upstream
// responses relayed back in order (with masking). Only this module and those it owns
// (pg/session-output.ts, pg/upstream-ending.ts) do I/O for a session.

import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { StatementOutcome } from '../audit/types.ts';
import type { SubjectsRecord } from '../audit/subjects.ts';
import { RESERVED_STATEMENT_PREFIX, type DecidedStatement } from '../enforce/decision-point.ts';
import type { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { decodeParameterStatus, type TransactionStatus } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import { encodeTerminate } from '../wire/frontend.ts';
import type { DetectionCounts } from '../enforce/content-detectors.ts';
import { PendingQueue, type Pending, type PreparedStatement, type ResultContext } from './pending.ts';
import { PortalTable } from './portal-table.ts';
import { errorMessageFor } from './error-message.ts';
import { ArrivalLocks } from './arrival-locks.ts';
import { CopyInTracker } from './copy-in.ts';
import { FailedBlock } from './failed-block.ts';
import { auditFlushFailedError, protocolViolation, shuttingDownMessage, upstreamLostMessage } from './session-fatal.ts';
import { ClientInput } from './client-input.ts';
import { SearchPathProbe } from './search-path-probe.ts';
import { UpstreamRelay } from './upstream-relay.ts';
import { RevisionFence } from './revision-fence.ts';
import { HELD_BACKLOG_BYTES, SessionOutput } from './session-output.ts';
import { DecisionWait } from './decision-wait.ts';
import { attachUpstream, releaseUpstream, type UpstreamListeners } from './upstream-ending.ts';
import { notRunOutcome, outcomeRecord } from './statement-outcomes.ts';
import { BatchState } from './batch-state.ts';
import { ClientMessages } from './client-messages.ts';
import type { SessionDeps } from './session-deps.ts';
import { abortUnanswered, handbackOf } from './session-handback.ts';

export { errorMessageFor };
export type { SessionDeps };

export class Session {
  readonly pending = new PendingQueue();
  readonly statements = new Map<string, PreparedStatement>();
  txStatus: TransactionStatus = 'I';
  readonly failedBlock = new FailedBlock();
  /** Which client message is taken next (pg/client-input.ts). */
  private readonly input: ClientInput;
  private readonly relay: UpstreamRelay;
  /** The client's extended-protocol batch: discarding until Sync, and forwarded since the last Sync. */
  readonly batch = new BatchState();
  /** The server asked for search_path at the start and after changes (pg/search-path-probe.ts). */
  private readonly searchPath = new SearchPathProbe({
    pending: this.pending,
    txStatus: () => this.txStatus,
    setPath: (path) => (this.deps.decision.searchPath = path),
    sendUpstream: (m) => this.sendUpstream(m),
    copying: () => this.copyIn.state !== null,
    holdClient: (hold) => (this.input.holdClient = hold),
    resume: () => this.processClientFrames(),
  });
  /** A COPY FROM STDIN forwarded: starting (client messages wait) or copying data in (pg/copy-in.ts). */
  private readonly copyIn = new CopyInTracker();
  /** A decision still to come (pg/decision-wait.ts): client messages after it wait in the framer, in order. */
  private readonly wait = new DecisionWait({ isClosed: () => this.closed, failed: (e) => this.protocolError(e), resumed: () => this.processClientFrames() });
  /** Upstream statement names: a random per-session prefix and a counter (pg/statement-decisions.ts), never reused. */
  private readonly statementPrefix = `${RESERVED_STATEMENT_PREFIX}${randomUUID().slice(0, 8)}_`;
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
  /** Client messages dispatched by type, decided and forwarded (pg/client-messages.ts). */
  private readonly messages: ClientMessages;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    readonly deps: SessionDeps,
    initialClientBytes: Buffer,
    initialUpstreamBytes: Buffer,
  ) {
    this.input = new ClientInput(deps.maxMessageBytes, deps.limits, {
      pending: this.pending,
      orderView: () => ({ pending: this.pending, statements: this.statements, portals: this.portals, searchPath: this.deps.decision.searchPath }),
      waiting: () => this.wait.active || this.copyIn.state === 'starting',
      pushUpstream: (m) => this.out.pushUpstream(m),
    });
    this.relay = new UpstreamRelay(this);
    const parts = { wait: this.wait, searchPath: this.searchPath.tracker, locks: this.locks, copyIn: this.copyIn, input: this.input };
    this.messages = new ClientMessages(this, { ...parts, statementPrefix: this.statementPrefix });
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
    this.searchPath.start(deps.searchPathProbe);
    this.batch.forwarded = false;
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
    this.batch.forwarded = true;
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
    this.input.push(chunk);
    this.processClientFrames();
  }

  /** Decides and forwards buffered client messages, unless they are held (see probeSearchPath). */
  private processClientFrames(): void {
    try {
      for (let frame = this.input.nextClientFrame(); frame; frame = this.input.nextClientFrame()) {
        this.messages.onClientFrame(frame);
        if (this.closed) return;
      }
    } catch (e) {
      this.protocolError(e);
      return;
    }
    this.flushSoon();
    this.out.clientFlow('backlog', this.input.buffered > HELD_BACKLOG_BYTES && this.input.nextClientFrameHeld());
  }

  /** A schema change made in this session committed: the database's snapshots are read again. */
  catalogChanged(): void {
    this.deps.catalog.changed();
  }

  /** The relay answered pending entries: a parked message may go on. */
  upstreamAnswered(): void {
    if (!this.closed && this.input.parkedReleased()) this.processClientFrames();
  }

  /** Passes a client message upstream as it came (Flush, COPY data). */
  frameUpstream(frame: Frame): void {
    this.out.frameUpstream(frame);
  }

  /** The client sent Terminate: upstream ends with the session, or (pooled) is handed back when nothing is left in flight. */
  clientTerminated(): void {
    if (this.deps.reuseUpstream === true) {
      // The pooled connection stays open: handed back (and reset) when nothing is left in flight.
      if (this.out.toUpstream.isEmpty) this.close('client terminated', false, true);
      else this.out.flushUpstream(() => this.close('client terminated', false, true));
      return;
    }
    this.out.toUpstream.push(encodeTerminate());
    this.out.flushUpstream(() => this.close('client terminated'));
  }

  /** Sends a client message (or what replaces it) upstream, expecting `expect`. */
  forward(raw: Buffer, expect: Pending): void {
    this.sendUpstream(raw);
    this.pending.push(expect);
    this.locks.forwarded(expect);
    this.fence.forwarded(expect);
    if (expect.kind === 'query' || expect.kind === 'execute') this.copyIn.forwarded(expect.ctx);
  }

  // ---- COPY FROM STDIN (pg/copy-in.ts) ----

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

  // ---- following search_path (pg/search-path.ts) ----

  /** After a batch that may have changed search_path: asks the server, holding the client's next messages. */
  probeSearchPathIfStale(): void {
    this.searchPath.probeIfStale();
  }

  /** The session's `gatehouse.reason` setting as the server last said (the probe reads it along). */
  reasonSetting(): string | null {
    return this.searchPath.tracker.reason();
  }

  /** The probe's answer (null when it failed, e.g. in an aborted transaction: asked again later). */
  searchPathProbed(value: string | null): void {
    this.searchPath.probed(value);
  }

  /**
   * Upstream failed an extended-protocol message and now discards everything until Sync; the
   * relay has dropped the pending entries of that stretch (PendingQueue.dropUntilSync). When the
   * client's Sync has not been forwarded yet, its messages until then would be discarded as well,
   * so Gatehouse discards them itself. A search_path probe sent in that stretch never ran.
   */
  upstreamSkipping(syncQueued: boolean, probeSkipped: boolean): void {
    if (!syncQueued) this.batch.skipUntilSync = true;
    if (probeSkipped) this.searchPath.skipped(); // asked again after the next Sync
  }

  // ---- audit outcomes ----

  /** Completes a statement's audit trail; outcomes go out with the next record (see AuditSink.writeSoon). */
  writeOutcome(decision: Pick<Decision, 'id' | 'revision'>, outcome: StatementOutcome, detected: DetectionCounts = {}, subjects: SubjectsRecord | null = null): void {
    this.deps.decision.audit.writeSoon(outcomeRecord(this.deps.decision, decision, outcome, detected, subjects));
  }

  recordRefused(statements: readonly DecidedStatement[], error: GatehouseError, status: 'refused' | 'aborted' = 'refused', reason?: string): void {
    for (const s of statements) this.writeOutcome(s.decision, notRunOutcome(error, status, reason));
  }

  /** A statement the client prepared or bound, never run because the lock ahead of it failed: decided again and audited as refused. */
  auditRefusedUnrun(sql: string, error: GatehouseError, reason: string): void {
    this.messages.decisions.auditRefusedUnrun(sql, error, reason);
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
   * Ends the session; `problem`: it ended on a protocol violation (audited as such, with `why`).
   * `clientEnded`: the client terminated or went away (a pooled connection may then be reused).
   */
  close(why: string, problem = false, clientEnded = false): void {
    if (this.closed) return;
    this.flushClient();
    // Handed back idle (pooled, ended cleanly by the client) or spent (pg/session-handback.ts).
    const reuseUpstream = this.deps.reuseUpstream === true;
    const handback = handbackOf({ reuseUpstream, pending: this.pending, out: this.out, batch: this.batch, copyIn: this.copyIn, upstream: this.upstream, relay: this.relay, txStatus: this.txStatus }, clientEnded, problem);
    this.closed = true;
    this.wait.forget(); // a decision still to come is only audited when it arrives (hold: late)
    // A schema change whose answer (or whose transaction's end) the server still owes may commit
    // after the client left: the snapshots are read again all the same (red-team round 12, R12-4).
    const owed = this.relay.catalogChangeOwed();
    const catalogMayChange = abortUnanswered(this.pending, (decision, outcome) => this.writeOutcome(decision, outcome)) || owed;
    this.client.end();
    this.client.destroySoon?.();
    // Released at once, or once the server has closed it when it may still commit a schema change (pg/upstream-ending.ts).
    releaseUpstream(this.upstream, this.upstreamListeners, handback, catalogMayChange, () => this.catalogChanged(), () => this.deps.onClose(problem ? why : null, handback));
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
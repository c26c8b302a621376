// A session's output to both sockets, batched per received chunk (one write(2) or writev(2) per
// socket: pg/output-batch.ts), written upstream only once the audit records of what it carries are
// durable (write-ahead), and the flow control that stops reading the client while output or held
// input grows beyond HELD_BACKLOG_BYTES.

import type { Socket } from 'node:net';
import type { SessionRecorder } from '../audit/session-recording.ts';
import type { DecisionContext } from '../enforce/decision-context.ts';
import type { Frame } from '../wire/framer.ts';
import { ClientHold } from './client-hold.ts';
import { OutputBatch, writeGathered } from './output-batch.ts';

/** Client bytes buffered unprocessed while a statement waits, beyond which the client is not read. */
export const HELD_BACKLOG_BYTES = 1024 * 1024;

/** Why the client socket may not be read: the upstream socket is full, held input, or output awaiting the audit flush. */
export type ClientStop = 'upstream' | 'backlog' | 'audit';

/** What the output needs of its session. */
export interface OutputHost {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly isClosed: boolean;
  readonly deps: {
    readonly decision: { readonly audit: Pick<DecisionContext['audit'], 'writeAccepted' | 'whenDurable'> };
    readonly recorder?: Pick<SessionRecorder, 'clientMessage'>;
  };
  /** The audit records of output already handed over could not be made durable: it is never sent. */
  auditFlushFailed(cause: Error): void;
  /** Writing failed: the session ends (audited as a problem). */
  close(why: string, problem: true): void;
}

/** Frontend message types that ask the server to send what it owes: Sync, Flush, Query. */
const ASKS_ANSWERS: ReadonlySet<number> = new Set([0x53, 0x48, 0x51]);
const FLUSH = 0x48;

/** A message asking for answers was queued: a Flush, or a Sync or Query (`end`: they end an implicit transaction). */
export type AnswersAsked = (kind: 'flush' | 'end') => void;

export class SessionOutput {
  readonly toClient = new OutputBatch();
  readonly toUpstream = new OutputBatch();
  /**
   * The queued upstream messages hold the Parse or Bind of a statement whose Execute may wait for approval
   * (holdUpstream): they are not written until that Execute goes up, or until a message asks the server to
   * answer (askedAnswers), so that no lock of theirs is held on the server during the wait.
   */
  private heldForApproval = false;
  private askedAnswers = false;
  /** Bytes handed to flushUpstream whose audit records are not yet durable (they wait in memory). */
  private awaitingDurable = 0;
  /** Why the client socket is not being read (see clientFlow). */
  private readonly clientStoppedBy: Record<ClientStop, boolean> = { upstream: false, backlog: false, audit: false };
  /** A flush of both batches is queued to run when this turn's work is done (flushSoon). */
  private flushQueued = false;

  /** Output held back until a check allows it (pg/client-hold.ts, pg/pin-check.ts). */
  private readonly held = new ClientHold();

  /** `answersAsked`: told of every Sync, Flush and Query queued for upstream (pg/approval-exposure.ts). */
  constructor(
    private readonly host: OutputHost,
    private readonly answersAsked: AnswersAsked = () => undefined,
  ) {}

  /** From now on the client's output is held: releaseHeld sends it, dropHeld discards it. */
  holdClient(): void {
    this.held.start();
  }

  releaseHeld(): void {
    for (const m of this.held.take()) this.emit(m);
  }

  dropHeld(): void {
    this.held.take();
  }

  emit(message: Buffer): void {
    if (this.held.active) return this.held.push(message);
    this.toClient.push(message);
    this.host.deps.recorder?.clientMessage(message);
  }

  /** Relays a server message as received (a view of its chunk when the framer made no copy). */
  emitFrame(frame: Frame): void {
    if (this.held.active) return this.held.push(frame.raw);
    if (frame.chunk !== undefined && frame.at !== undefined && frame.size !== undefined) this.toClient.pushSlice(frame.chunk, frame.at, frame.size);
    else this.toClient.push(frame.raw);
    this.host.deps.recorder?.clientMessage(frame.raw);
  }

  /** Forwards a client message as received (a view of its chunk when the framer made no copy). */
  frameUpstream(frame: Frame): void {
    if (frame.chunk !== undefined && frame.at !== undefined && frame.size !== undefined) this.toUpstream.pushSlice(frame.chunk, frame.at, frame.size);
    else this.toUpstream.push(frame.raw);
    this.queued(frame.type);
  }

  /** Queues a message for upstream. */
  pushUpstream(message: Buffer): void {
    this.toUpstream.push(message);
    this.queued(message[0]!);
  }

  private queued(type: number): void {
    if (!ASKS_ANSWERS.has(type)) return;
    this.askedAnswers = true;
    this.answersAsked(type === FLUSH ? 'flush' : 'end');
  }

  /**
   * What is queued for upstream, and what is queued after it, waits (pg/arrival-locks.ts: the Parse or Bind
   * of a statement held for approval) until releaseUpstream or a message asking for answers. The server
   * would answer none of it before such a message anyway: the client sees the same. What is queued already
   * behind a message asking for answers goes now: that message asked for it, not for what is held.
   */
  holdUpstream(): void {
    if (this.askedAnswers) this.flushUpstream();
    this.heldForApproval = true;
  }

  releaseUpstream(): void {
    this.heldForApproval = false;
  }

  /**
   * Writes what this turn queued for either socket once the turn's work is done (a microtask):
   * a client chunk, an upstream chunk and the decisions they release end in one write per socket,
   * however many times the session and the relay finished a piece of work meanwhile.
   */
  flushSoon(): void {
    if (this.flushQueued || this.host.isClosed) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      try {
        this.flushUpstream();
        this.flushClient();
      } catch (e) {
        this.host.close(`output failed: ${e instanceof Error ? e.message : String(e)}`, true);
      }
    });
  }

  /** Writes what was queued for the client now (before the session pauses, ends or waits). */
  flushClient(): void {
    if (this.toClient.isEmpty || this.host.isClosed) return;
    // Records accepted this turn go to the log first: a refusal is never heard before its record is written.
    this.host.deps.decision.audit.writeAccepted?.();
    if (!this.toClient.writeTo(this.host.client)) this.host.upstream.pause();
  }

  /** Sends what was queued for upstream once the audit records of its statements are on disk (write-ahead). */
  flushUpstream(then?: () => void): void {
    if (this.toUpstream.isEmpty || this.host.isClosed) return;
    if (this.heldForApproval && !this.askedAnswers && then === undefined) return;
    this.heldForApproval = false;
    this.askedAnswers = false;
    const bytes = this.toUpstream.length;
    const pieces = this.toUpstream.take();
    this.awaitingDurable += bytes;
    if (this.awaitingDurable > HELD_BACKLOG_BYTES) this.clientFlow('audit', true);
    this.host.deps.decision.audit.whenDurable((error) => {
      this.awaitingDurable -= bytes;
      if (error !== null) return this.host.auditFlushFailed(error);
      if (this.host.isClosed) return;
      if (!writeGathered(this.host.upstream, bytes, pieces)) this.clientFlow('upstream', true);
      if (this.awaitingDurable <= HELD_BACKLOG_BYTES) this.clientFlow('audit', false);
      then?.();
    });
  }

  /** Nothing queued for upstream nor waiting for the audit flush. */
  get upstreamIdle(): boolean {
    return this.toUpstream.isEmpty && this.awaitingDurable === 0;
  }

  /**
   * Stops reading the client while the upstream socket is full, while messages it already sent
   * wait unprocessed beyond HELD_BACKLOG_BYTES (a decision or approval pending), or while more than
   * that waits for the audit flush (write-ahead): memory stays bounded and TCP pushes back on the
   * client, as PostgreSQL does by not reading.
   */
  clientFlow(reason: ClientStop, stop: boolean): void {
    if (this.clientStoppedBy[reason] === stop) return;
    this.clientStoppedBy[reason] = stop;
    if (this.clientStopped()) this.host.client.pause();
    else if (!this.host.isClosed) this.host.client.resume();
  }

  clientStopped(): boolean {
    return this.clientStoppedBy.upstream || this.clientStoppedBy.backlog || this.clientStoppedBy.audit;
  }
}

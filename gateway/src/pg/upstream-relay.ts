// Upstream → client: attributes each upstream message to the request it answers (the pending
// queue), applies the statement's output plan (enforce/output-plan.ts: withholds any result column
// that comes raw from a masked table column, defence in depth behind masking at the source, and
// runs the content detectors the decision asks for over rows, COPY data, notices and errors),
// records outcomes, and forwards everything else byte for byte (results of a Query or Execute go
// through pg/result-relay.ts). A response the request at the head of
// the queue cannot produce ends the session (FATAL 08P01) rather than being relayed.

import { BE } from '../wire/message-types.ts';
import { decodeDataRow, decodeErrorFields, decodeReadyForQuery, decodeRowDescription, encodeErrorFields, errorResponse, noData, rowDescription } from '../wire/backend.ts';
import { MessageFramer, type Frame } from '../wire/framer.ts';
import { scanMessageFields, type ResultField } from '../enforce/output-plan.ts';
import { isGatehouseError } from '../errors.ts';
import { canProduce, skipsUntilSync, type Pending, type ResultContext } from './pending.ts';
import { parameterStatusAllowed } from './parameter-status-guard.ts';
import { RowDescriptions } from './row-descriptions.ts';
import type { RelayHost } from './relay-host.ts';
import { changesCatalog } from '../sql/catalog-changes.ts';
import { lockAheadAnswered, lockAheadFailed, lockPrefixRefused, prefixedQueryError } from './lock-answers.ts';
import { answersCheckedWrite, pinCheckFailed, pinCheckFrame, pinCheckReady } from './pin-check.ts';
import { undoNameChanges } from './name-undo.ts';
import { subjectsRecord } from './result-subjects.ts';
import type { Disclosures } from '../enforce/hidden-subjects.ts';
import { withoutValueDetail } from './value-detail.ts';
import { detectorOf } from './result-detail.ts';
import { desync } from './relay-desync.ts';
import { ResultRelay } from './result-relay.ts';

/** Upstream messages are trusted more than client ones, but still bounded. */
const MAX_UPSTREAM_MESSAGE = 1 << 30;

export class UpstreamRelay {
  private readonly framer = new MessageFramer(MAX_UPSTREAM_MESSAGE);
  private readonly descriptions = new RowDescriptions();
  private pumping = false;
  /**
   * A statement that writes a table with columns masked for the identity has run since the server was
   * last idle outside a transaction: errors and notices until then may quote stored values (scrubbed).
   */
  private maskedWriteInTransaction = false;
  /**
   * A statement that may change the catalog (sql/catalog-changes.ts) completed since the server was
   * last idle outside a transaction: when it is idle again (the change committed, or rolled back),
   * the catalog snapshots are read again (pg/catalog.ts changed()).
   */
  private catalogChangeInTransaction = false;
  /**
   * A statement that may change the catalog completed and the snapshots have not been read since: read
   * at the next ReadyForQuery even when a transaction is still open, so that the read sees the locks the
   * change holds (a view being replaced is marked, and statements naming it are refused, instead of
   * being decided with the old definition and queued behind the lock to run the new one: red-team
   * round 13, R13-3). The read at the end of the transaction sees what was committed.
   */
  private catalogChangeUnread = false;

  /** Results of a Query or Execute, through the statement's output plan (pg/result-relay.ts). */
  private readonly results: ResultRelay;

  constructor(private readonly s: RelayHost) {
    this.results = new ResultRelay(s, (ctx, outcome) => this.completeStatement(ctx, outcome));
  }

  private readonly disclosures = (): Disclosures | undefined => this.s.deps.decision.disclosures;

  /** A schema change completed in the transaction still open: it commits if the server is told COMMIT. */
  catalogChangeOwed(): boolean {
    return this.catalogChangeInTransaction;
  }

  /**
   * The session is over and its connection goes back to the pool: the bytes received and not yet
   * relayed (an asynchronous message), or null while a result is still being processed.
   */
  handOver(): Buffer | null {
    if (this.pumping) return null;
    return this.framer.drain();
  }

  onData(chunk: Buffer): void {
    this.framer.push(chunk);
    if (!this.pumping) void this.pump();
  }

  /** Processes buffered frames; pauses the upstream socket while a mask plan is being resolved. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const frame = this.framer.next();
        if (!frame) break;
        const wait = this.onFrame(frame);
        if (this.s.isClosed) {
          void wait?.catch(() => undefined);
          return;
        }
        if (wait) {
          this.s.flushClient();
          this.s.upstream.pause();
          await wait;
          if (this.s.isClosed) return;
          this.s.upstream.resume();
        }
      }
    } catch (e) {
      if (isGatehouseError(e) && e.code === 'PROTOCOL_VIOLATION') {
        this.s.endOnDesync(e);
        return;
      }
      this.s.emit(
        errorResponse({
          severity: 'FATAL',
          sqlstate: 'XX000',
          message: `Gatehouse failed while relaying results: ${e instanceof Error ? e.message : String(e)}`,
        }),
      );
      this.s.flushClient();
      this.s.close('relay failure');
      return;
    } finally {
      this.pumping = false;
    }
    this.s.flushSoon();
    this.s.upstreamAnswered();
  }

  private onFrame(frame: Frame): Promise<void> | null {
    pinCheckFrame(this.s, this.s.pending.peek()); // a checked Query's output is held until its check answers (pg/pin-check.ts)
    switch (frame.type) {
      case BE.NoticeResponse:
        // Under a mask, PostgreSQL only ever saw masked values, so its messages can quote no others;
        // text from columns the content detectors scan may be quoted, so that is scanned.
        this.s.emitFrame(this.scrubbed(frame, this.s.pending.peek()));
        return null;
      case BE.NotificationResponse:
        this.s.emitFrame(frame);
        return null;
      case BE.ParameterStatus:
        // An unsafe standard_conforming_strings or client_encoding ends the session (pg/parameter-status-guard.ts).
        if (parameterStatusAllowed(this.s, frame)) {
          this.s.emitFrame(frame);
          this.s.upstreamParameter(frame);
        }
        return null;
    }
    const head = this.s.pending.peek();
    switch (frame.type) {
      case BE.ErrorResponse:
        this.onError(this.scrubbed(frame, head), head);
        return null;
    }
    if (!head || !canProduce(head, frame.type)) throw desync(frame, head);
    switch (head.kind) {
      case 'query':
        if (frame.type === BE.ReadyForQuery) return this.onReady(frame, head);
        return this.results.onResult(frame, head);
      case 'execute':
        return this.results.onResult(frame, head);
      case 'parse':
      case 'bind':
      case 'close':
      case 'close-statement':
        this.s.pending.shift();
        this.s.emitFrame(frame);
        return null;
      case 'describe':
        return this.onDescribe(frame, head);
      case 'search-path':
        if (frame.type === BE.ReadyForQuery) return this.onReady(frame, head);
        if (frame.type === BE.DataRow) head.value = decodeDataRow(frame.body)[0]?.toString('utf8') ?? null;
        return null; // RowDescription, DataRow and CommandComplete of the probe stay with Gatehouse
      case 'sync':
      case 'refused-query':
        return this.onReady(frame, head);
      case 'swap-error':
        throw desync(frame, head); // answered by an ErrorResponse only (canProduce)
      case 'lock-ahead':
        lockAheadAnswered(this.s.pending, head, frame); // Gatehouse's own (pg/lock-answers.ts): not the client's
        return null;
      default: {
        const never: never = head;
        throw new Error(`unknown pending entry ${JSON.stringify(never)}`);
      }
    }
  }

  /** ReadyForQuery: ends a simple Query (the client's, a refused one, or Gatehouse's probe) or a Sync. */
  private onReady(frame: Frame, head: Pending): null {
    this.s.txStatus = this.s.failedBlock.ready(decodeReadyForQuery(frame.body));
    if (this.s.txStatus === 'I') this.maskedWriteInTransaction = false;
    if (this.s.txStatus === 'I' && this.catalogChangeInTransaction) {
      // Before the client hears ReadyForQuery: its next statement, in any session, waits for the read.
      this.catalogChangeInTransaction = false;
      this.catalogChangeUnread = false;
      this.s.catalogChanged();
    } else if (this.catalogChangeUnread) {
      this.catalogChangeUnread = false;
      this.s.catalogChanged();
    }
    this.s.pending.shift();
    this.s.fence.ready(this.s.txStatus, this.s.pending.length === 0);
    switch (head.kind) {
      case 'search-path':
        // Gatehouse's own probe: the client has had its ReadyForQuery already.
        this.s.searchPathProbed(head.failed ? null : head.value);
        return null;
      case 'query':
        this.finish(head.ctx);
        pinCheckReady(this.s, head.ctx);
        break;
      case 'refused-query':
        if (!head.shown) this.s.emit(head.error); // fail closed: the client sees its denial whatever upstream said
        break;
      default:
        break;
    }
    this.s.emitFrame(frame);
    // After the emit: ending a COPY lets held client messages go, and their answers come after this one.
    if (head.kind === 'query') this.s.copyEnded(head.ctx);
    return null;
  }

  private onDescribe(frame: Frame, head: Extract<Pending, { kind: 'describe' }>): null {
    // Fail closed: the unnamed portal Gatehouse did not bind can only be one PostgreSQL describes
    // without columns (NoData) or refuses (25P02); columns would come from a statement it cannot name.
    if (head.untracked === true && frame.type === BE.RowDescription) throw desync(frame, head);
    let raw = frame.raw;
    if (frame.type === BE.RowDescription || frame.type === BE.NoData) {
      let fields: readonly ResultField[] = frame.type === BE.RowDescription ? this.descriptions.decode(frame.body) : [];
      // Hidden subject columns (enforce/subject-columns.ts) are never described to the client.
      const subjects = head.target === null ? null : ('statement' in head.target ? head.target.statement.subjects : head.target.subjects);
      if (frame.type === BE.RowDescription && subjects && subjects.hidden.length > 0) {
        const kept = decodeRowDescription(frame.body).slice(0, -subjects.hidden.length);
        fields = subjects.returningAdded ? [] : kept;
        raw = subjects.returningAdded ? noData() : rowDescription(kept);
      }
      if (head.target) head.target.fields = fields;
      this.s.pending.shift();
    }
    if (!head.hidden) this.s.emit(raw);
    return null;
  }


  /**
   * A notice or error with identifiers replaced where the statement it answers asks for content
   * detection, and without what may quote stored values where the statement, or an earlier one of its
   * transaction, writes a table with columns masked for the identity: a deferred constraint fails at
   * COMMIT, SET CONSTRAINTS or the Sync that commits (R10-5).
   */
  private scrubbed(frame: Frame, head: Pending | undefined): Frame {
    const ctx = head?.kind === 'query' || head?.kind === 'execute' ? head.ctx : null;
    const detector = ctx === null ? null : detectorOf(ctx);
    const rawWrite = this.maskedWriteInTransaction || answersCheckedWrite(ctx) || (ctx !== null && ctx.statements.some((s) => s.writesMaskedTable === true));
    if (detector === null && !rawWrite) return frame;
    const decoded = decodeErrorFields(frame.body);
    const kept = rawWrite ? withoutValueDetail(decoded, frame.type === BE.NoticeResponse, answersCheckedWrite(ctx)) : null;
    const scanned = detector === null || ctx === null ? null : scanMessageFields(kept ?? decoded, detector, ctx.detected);
    const fields = scanned ?? kept;
    if (fields === null) return frame;
    const raw = encodeErrorFields(frame.type === BE.ErrorResponse ? BE.ErrorResponse : BE.NoticeResponse, fields);
    return { type: frame.type, raw, body: raw.subarray(5) };
  }

  private completeStatement(ctx: ResultContext, outcome: Parameters<RelayHost['writeOutcome']>[1]): void {
    const stmt = ctx.statements[ctx.index];
    if (stmt?.writesMaskedTable === true) this.maskedWriteInTransaction = true;
    if (outcome.status === 'ok' && stmt?.parsed && changesCatalog(stmt.parsed.facts)) this.catalogChangeInTransaction = this.catalogChangeUnread = true;
    if (stmt) this.s.writeOutcome(stmt.decision, outcome, ctx.detected, subjectsRecord(ctx, this.disclosures));
    if (stmt && outcome.status === 'ok') this.s.fence.completed(stmt); // a cursor's DECLARE or CLOSE took effect
    ctx.index++;
    ctx.subjectRows = null;
    ctx.plan = null;
    ctx.columns = null;
    ctx.rows = 0;
    ctx.detected = {};
    ctx.copyDetector = null;
  }

  /** Statements of a multi-statement query that never ran because an earlier one failed. */
  private finish(ctx: ResultContext): void {
    for (const s of ctx.statements.slice(ctx.index)) this.s.writeOutcome(s.decision, { status: 'aborted' });
    ctx.index = ctx.statements.length;
  }

  private onError(frame: Frame, head: Pending | undefined): void {
    if (head?.kind === 'search-path') {
      head.failed = true; // e.g. in an aborted transaction; asked again after the next batch
      return;
    }
    if (!head) {
      this.s.emitFrame(frame); // a FATAL the server sends on its own (shutdown, timeouts)
      return;
    }
    const fields = decodeErrorFields(frame.body);
    const sqlstate = fields['C'] ?? 'XX000';
    switch (head.kind) {
      case 'swap-error':
        this.s.emit(head.error);
        break;
      case 'refused-query':
        head.shown = true;
        this.s.emit(head.error);
        break;
      case 'query': {
        if (pinCheckFailed(this.s, head.ctx, fields)) break;
        const lock = head.ctx.lockPrefix;
        if (lock !== undefined && lock.left > 0 && sqlstate === '55P03') {
          // The LOCK ahead of the string could not be had at once: Gatehouse's refusal, nothing of the string ran.
          lock.left = 0;
          lockPrefixRefused(this.s, head.ctx, lock.prefix, fields['M'] ?? '');
          break;
        }
        // Any other error of the LOCK (25P02 in a failed transaction, as the first statement would get; 42501,
        // 42P01, saying it was Gatehouse's LOCK) is the first statement's; positions count from the client's text.
        const inPrefix = lock !== undefined && lock.left > 0;
        if (lock !== undefined) lock.left = 0;
        this.completeStatement(head.ctx, { status: 'error', sqlstate, message: fields['M'] ?? '' });
        this.s.emitFrame(lock === undefined ? frame : prefixedQueryError(frame, fields, lock.prefix, inPrefix));
        break;
      }
      case 'execute': {
        this.completeStatement(head.ctx, { status: 'error', sqlstate, message: fields['M'] ?? '' });
        this.s.emitFrame(frame);
        break;
      }
      case 'lock-ahead':
        lockAheadFailed(this.s, head, fields, this.s.pending.untilSync()); // the LOCK ahead of a pipelined message (pg/lock-answers.ts)
        break;
      default:
        this.s.emitFrame(frame);
    }
    if (!skipsUntilSync(head)) return; // ReadyForQuery follows
    // Extended protocol: upstream now discards every message until Sync, simple Queries included.
    const failed = this.s.pending.shift()!;
    const skipped = this.s.pending.dropUntilSync();
    const undone = [failed, ...skipped];
    for (const p of undone) {
      if (p.kind === 'execute' || p.kind === 'query') {
        for (const st of p.ctx.statements.slice(p.ctx.index)) this.s.writeOutcome(st.decision, { status: 'aborted' });
      }
    }
    undoNameChanges(failed, skipped, this.s);
    this.s.upstreamSkipping(
      this.s.pending.peek()?.kind === 'sync',
      undone.some((p) => p.kind === 'search-path'),
    );
    // Last: ending a COPY lets held client messages go, which must see the skipping state above.
    for (const p of undone) if (p.kind === 'execute' || p.kind === 'query') this.s.copyEnded(p.ctx);
  }
}

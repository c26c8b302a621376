// Upstream → client: attributes each upstream message to the request it answers (the pending
// queue), rewrites DataRows of masked columns, scrubs errors of masked statements, records
// outcomes, and forwards everything else byte for byte.

import { BE } from '../wire/message-types.ts';
import {
  dataRow,
  decodeCommandComplete,
  decodeDataRow,
  decodeErrorFields,
  decodeReadyForQuery,
  decodeRowDescription,
  errorResponse,
  noticeResponse,
} from '../wire/backend.ts';
import { MessageFramer, type Frame } from '../wire/framer.ts';
import { NO_MASKS, resolveMaskPlan, type MaskPlan, type ResultField } from '../enforce/mask-plan.ts';
import { maskValue } from '../enforce/mask-value.ts';
import type { Pending, ResultContext } from './pending.ts';
import type { Session } from './session.ts';

/** Upstream messages are trusted more than client ones, but still bounded. */
const MAX_UPSTREAM_MESSAGE = 1 << 30;

export class UpstreamRelay {
  private readonly framer = new MessageFramer(MAX_UPSTREAM_MESSAGE);
  private pumping = false;

  constructor(private readonly s: Session) {}

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
        if (wait) {
          this.s.flushClient();
          this.s.upstream.pause();
          await wait;
          if (this.s.isClosed) return;
          this.s.upstream.resume();
        }
      }
    } catch (e) {
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
    this.s.flushClient();
  }

  private onFrame(frame: Frame): Promise<void> | null {
    const head = this.s.pending.peek();
    switch (frame.type) {
      case BE.NoticeResponse:
        this.s.emit(this.masking(head) ? scrub(frame, 'notice') : frame.raw);
        return null;
      case BE.NotificationResponse:
      case BE.ParameterStatus:
        this.s.emit(frame.raw);
        return null;
      case BE.ErrorResponse:
        this.onError(frame, head);
        return null;
      case BE.ReadyForQuery:
        this.s.txStatus = decodeReadyForQuery(frame.body);
        if (head?.kind === 'search-path') {
          // Gatehouse's own probe: the client has had its ReadyForQuery already.
          this.s.pending.shift();
          this.s.searchPathProbed(head.failed ? null : head.value);
          return null;
        }
        if (head?.kind === 'query') this.finish(head.ctx);
        if (head?.kind === 'query' || head?.kind === 'sync') this.s.pending.shift();
        this.s.emit(frame.raw);
        return null;
    }
    if (!head) {
      this.s.emit(frame.raw);
      return null;
    }
    switch (head.kind) {
      case 'query':
      case 'execute':
        return this.onResult(frame, head);
      case 'parse':
      case 'bind':
      case 'close':
      case 'close-statement':
        this.s.pending.shift();
        this.s.emit(frame.raw);
        return null;
      case 'describe':
        return this.onDescribe(frame, head);
      case 'search-path':
        if (frame.type === BE.DataRow) head.value = decodeDataRow(frame.body)[0]?.toString('utf8') ?? null;
        return null; // RowDescription, DataRow and CommandComplete of the probe stay with Gatehouse
      case 'sync':
      case 'swap-error':
        this.s.emit(frame.raw);
        return null;
      default: {
        const never: never = head;
        throw new Error(`unknown pending entry ${JSON.stringify(never)}`);
      }
    }
  }

  private masking(head: Pending | undefined): boolean {
    return (head?.kind === 'query' || head?.kind === 'execute') && head.ctx.masks.length > 0;
  }

  private onDescribe(frame: Frame, head: Extract<Pending, { kind: 'describe' }>): null {
    if (frame.type === BE.ParameterDescription) {
      if (!head.hidden) this.s.emit(frame.raw);
      return null;
    }
    if (frame.type === BE.RowDescription || frame.type === BE.NoData) {
      const fields: ResultField[] = frame.type === BE.RowDescription ? decodeRowDescription(frame.body) : [];
      if (head.target) head.target.fields = fields;
      this.s.pending.shift();
    }
    if (!head.hidden) this.s.emit(frame.raw);
    return null;
  }

  private onResult(frame: Frame, head: Extract<Pending, { kind: 'query' | 'execute' }>): Promise<void> | null {
    const ctx = head.ctx;
    switch (frame.type) {
      case BE.RowDescription: {
        this.s.emit(frame.raw);
        if (ctx.masks.length === 0) return null;
        return this.plan(ctx, decodeRowDescription(frame.body));
      }
      case BE.DataRow: {
        ctx.rows++;
        if (ctx.masks.length > 0 && ctx.plan === null && head.kind === 'execute') {
          // Extended protocol: the columns came from a Describe (the client's or Gatehouse's own).
          const fields = head.portal?.fields ?? null;
          if (fields === null) {
            // Fail closed: masking cannot be planned without the columns.
            ctx.plan = { columns: [], any: false };
            throw new Error('masked result without a row description');
          }
          const wait = this.plan(ctx, fields);
          return wait.then(() => this.emitRow(frame, ctx));
        }
        this.emitRow(frame, ctx);
        return null;
      }
      case BE.CommandComplete:
      case BE.EmptyQueryResponse:
      case BE.PortalSuspended: {
        const tag = frame.type === BE.CommandComplete ? decodeCommandComplete(frame.body) : frame.type === BE.PortalSuspended ? 'SUSPENDED' : '';
        this.completeStatement(ctx, { status: 'ok', command_tag: tag || null, rows: rowCount(tag, ctx.rows) });
        if (head.kind === 'execute') this.s.pending.shift();
        this.s.emit(frame.raw);
        return null;
      }
      default:
        // CopyIn/CopyOut/CopyData/CopyDone and anything else of this statement's results.
        this.s.emit(frame.raw);
        return null;
    }
  }

  private emitRow(frame: Frame, ctx: ResultContext): void {
    const plan = ctx.plan ?? NO_MASKS;
    if (!plan.any) {
      this.s.emit(frame.raw);
      return;
    }
    const values = decodeDataRow(frame.body);
    const out = values.map((v, i) => {
      const m = plan.columns[i];
      return m ? maskValue(v, m) : v;
    });
    this.s.emit(dataRow(out));
  }

  private plan(ctx: ResultContext, fields: ResultField[]): Promise<void> {
    return resolveMaskPlan({ fields, masks: ctx.masks, referenced: ctx.referenced }, this.s.deps.catalog).then((plan: MaskPlan) => {
      ctx.plan = plan;
    });
  }

  private completeStatement(ctx: ResultContext, outcome: Parameters<Session['writeOutcome']>[1]): void {
    const stmt = ctx.statements[ctx.index];
    if (stmt) this.s.writeOutcome(stmt.decision.id, outcome);
    ctx.index++;
    ctx.plan = null;
    ctx.rows = 0;
  }

  /** Statements of a multi-statement query that never ran because an earlier one failed. */
  private finish(ctx: ResultContext): void {
    for (const s of ctx.statements.slice(ctx.index)) this.s.writeOutcome(s.decision.id, { status: 'aborted' });
    ctx.index = ctx.statements.length;
  }

  private onError(frame: Frame, head: Pending | undefined): void {
    if (head?.kind === 'search-path') {
      head.failed = true; // e.g. in an aborted transaction; asked again after the next batch
      return;
    }
    const fields = decodeErrorFields(frame.body);
    const sqlstate = fields['C'] ?? 'XX000';
    if (!head) {
      this.s.emit(frame.raw);
      return;
    }
    if (head.kind === 'swap-error') {
      this.s.emit(head.error);
    } else if (head.kind === 'query' || head.kind === 'execute') {
      const masked = head.ctx.masks.length > 0;
      this.completeStatement(head.ctx, { status: 'error', sqlstate, message: masked ? 'withheld: masked statement' : (fields['M'] ?? '') });
      this.s.emit(masked ? scrub(frame, 'error') : frame.raw);
    } else {
      this.s.emit(frame.raw);
    }
    if (head.kind === 'query') return; // a simple Query ends with its own ReadyForQuery
    // Extended protocol: upstream now skips everything until Sync, so do the expectations.
    const undone = [this.s.pending.shift()!, ...this.s.pending.dropUntilSync()];
    for (const p of undone) {
      if (p.kind === 'execute') for (const st of p.ctx.statements) this.s.writeOutcome(st.decision.id, { status: 'aborted' });
    }
    this.undoStatementChanges(undone);
  }

  /**
   * Statement names were updated when the client's Parse/Close went out; the database refused
   * or skipped these, so put the names back as the database has them (latest change first).
   */
  private undoStatementChanges(undone: Pending[]): void {
    for (const p of undone.reverse()) {
      if (p.kind === 'parse' && this.s.statements.get(p.statement.name) === p.statement) {
        this.s.statements.delete(p.statement.name);
      } else if (p.kind === 'close-statement' && p.statement && !this.s.statements.has(p.statement.name)) {
        this.s.statements.set(p.statement.name, p.statement);
      }
    }
  }
}

/**
 * An error or notice raised while a masked statement ran may quote a masked value (e.g. "invalid
 * input syntax for type integer: "900-12-3456""): keep its SQLSTATE and severity, withhold text.
 */
function scrub(frame: Frame, kind: 'error' | 'notice'): Buffer {
  const f = decodeErrorFields(frame.body);
  const fields = {
    severity: f['V'] ?? f['S'] ?? (kind === 'error' ? 'ERROR' : 'NOTICE'),
    sqlstate: f['C'] ?? 'XX000',
    message: `${kind === 'error' ? 'error' : 'notice'} text withheld by Gatehouse: the statement reads masked columns`,
    hint: 'The SQLSTATE is the database\'s own; the text was withheld because it could quote a masked value.',
  };
  return kind === 'error' ? errorResponse(fields) : noticeResponse(fields);
}

/** Rows affected, from a command tag ("INSERT 0 5", "UPDATE 3", "SELECT 10"), else rows counted. */
function rowCount(tag: string, counted: number): number | null {
  const m = /(\d+)$/.exec(tag);
  if (m) return Number(m[1]);
  return counted > 0 ? counted : null;
}

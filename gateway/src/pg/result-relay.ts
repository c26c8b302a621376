// The results of a Query or Execute on their way to the client: RowDescription, DataRow, command
// completion and COPY, through the statement's output plan (enforce/output-plan.ts): masked columns
// withheld, hidden subject columns stripped (pg/result-subjects.ts), content detectors run over rows
// and COPY data. The relay (pg/upstream-relay.ts) hands each such frame here with its pending entry.

import { copyData, dataRow, decodeCommandComplete, decodeDataRow, decodeRowDescription, rowDescription } from '../wire/backend.ts';
import { BE } from '../wire/message-types.ts';
import { payloadInt16, type Frame } from '../wire/framer.ts';
import { filterRow, filterRowInTurns, needsTurns, planOutput, type ResultField } from '../enforce/output-plan.ts';
import { addCounts, LARGE_VALUE_BYTES, type BufferScan } from '../enforce/content-detectors.ts';
import { GatehouseError } from '../errors.ts';
import type { Disclosures } from '../enforce/hidden-subjects.ts';
import type { Pending, ResultContext } from './pending.ts';
import { pinCheckCompleted } from './pin-check.ts';
import type { RelayHost } from './relay-host.ts';
import { subjectsOf, takeSubjects } from './result-subjects.ts';
import { columnCount, detectionsOf, detectorOf, filtering, rowCount, withFormats } from './result-detail.ts';
import { desync } from './relay-desync.ts';

/** A statement's outcome, completing its audit record (pg/upstream-relay.ts completeStatement). */
export type CompleteStatement = (ctx: ResultContext, outcome: Parameters<RelayHost['writeOutcome']>[1]) => void;

export class ResultRelay {
  constructor(
    private readonly s: RelayHost,
    private readonly completeStatement: CompleteStatement,
  ) {}

  private readonly disclosures = (): Disclosures | undefined => this.s.deps.decision.disclosures;

  onResult(frame: Frame, head: Extract<Pending, { kind: 'query' | 'execute' }>): Promise<void> | null {
    const ctx = head.ctx;
    switch (frame.type) {
      case BE.RowDescription: {
        // Only a Query gets here (canProduce): an Execute's columns come from a Describe.
        ctx.columns = payloadInt16(frame, 0);
        if (ctx.columns === null) throw new Error('a RowDescription without its field count'); // ends the session (XX000), as reading past its end did
        const subjects = subjectsOf(ctx);
        if (subjects !== null) {
          // Hidden subject columns: stripped, or the whole description when Gatehouse added the RETURNING.
          const kept = decodeRowDescription(frame.body).slice(0, -subjects.hidden.length);
          if (!subjects.returningAdded) this.s.emit(rowDescription(kept));
          if (filtering(ctx)) this.plan(ctx, kept);
          return null;
        }
        this.s.emitFrame(frame);
        if (filtering(ctx)) this.plan(ctx, decodeRowDescription(frame.body));
        return null;
      }
      case BE.DataRow: {
        // A Query's rows follow its RowDescription; anything else belongs to another request.
        if (head.kind === 'query' && (ctx.columns === null || columnCount(frame) !== ctx.columns)) throw desync(frame, head);
        ctx.rows++;
        if (filtering(ctx) && ctx.plan === null && head.kind === 'execute') {
          // Extended protocol: the columns came from a Describe (the client's or Gatehouse's own),
          // their formats from the Bind (a Describe of a statement says text for every column).
          const fields = head.portal?.fields ?? null;
          if (fields === null) {
            // Fail closed: masking cannot be planned without the columns.
            ctx.plan = { columns: [], any: false };
            throw new Error('masked result without a row description');
          }
          this.plan(ctx, withFormats(fields, head.portal?.resultFormats ?? []));
        }
        const subjects = subjectsOf(ctx);
        if (subjects !== null) {
          const visible = takeSubjects(frame, ctx, subjects, this.disclosures);
          return visible === null ? null : this.emitRow(visible, head);
        }
        return this.emitRow(frame, head);
      }
      case BE.CommandComplete:
      case BE.EmptyQueryResponse:
      case BE.PortalSuspended: {
        const prefix = ctx.lockPrefix;
        if (prefix !== undefined && prefix.left > 0 && frame.type === BE.CommandComplete) {
          prefix.left--; // a LOCK Gatehouse sent ahead of the client's statements (enforce/lock-prefix.ts)
          return null;
        }
        if (frame.type === BE.CommandComplete && pinCheckCompleted(this.s, ctx)) return null;
        const tag = frame.type === BE.CommandComplete ? decodeCommandComplete(frame.body) : frame.type === BE.PortalSuspended ? 'SUSPENDED' : '';
        this.completeStatement(ctx, { status: 'ok', command_tag: tag || null, rows: rowCount(tag, ctx.rows) });
        if (head.kind === 'execute') {
          this.s.pending.shift();
          this.s.failedBlock.executed(); // a ROLLBACK or COMMIT may have ended a failed block
        }
        this.s.emitFrame(frame);
        if (head.kind === 'execute') this.s.copyEnded(ctx); // after the emit, as in onReady
        return null;
      }
      case BE.CopyOutResponse: {
        // COPY of a masked table or query was rewritten to copy masked values (enforce/mask-rewrite.ts);
        // content detectors scan each row of a text or CSV COPY (one CopyData per row).
        const detector = detectorOf(ctx);
        if (detector !== null && frame.body[0] !== 0) {
          throw new GatehouseError('FEATURE_NOT_SUPPORTED', 'Gatehouse cannot scan binary COPY data for identifiers, which the policy asks for on this table, so it ended the session', {
            hint: 'Use COPY in text or CSV format.',
          });
        }
        ctx.copyDetector = detector;
        this.s.emitFrame(frame);
        return null;
      }
      case BE.CopyInResponse:
        this.s.emitFrame(frame);
        this.s.copyInStarted(ctx); // after the emit: it may decide and forward client messages held meanwhile
        return null;
      case BE.CopyData: {
        const detector = ctx.copyDetector ?? null;
        if (detector === null) {
          this.s.emitFrame(frame);
          return null;
        }
        const emit = (scan: BufferScan): void => {
          addCounts(ctx.detected, scan.counts);
          if (scan.changed) this.s.emit(copyData(scan.out));
          else this.s.emitFrame(frame);
        };
        if (frame.body.length > LARGE_VALUE_BYTES) return detector.scanBufferInTurns(frame.body).then(emit);
        emit(detector.scanBuffer(frame.body));
        return null;
      }
      case BE.CopyDone:
        this.s.emitFrame(frame);
        return null;
      default:
        throw desync(frame, head); // canProduce lets nothing else through
    }
  }

  /** Forwards a DataRow through the masking of the statement it belongs to. */
  private emitRow(frame: Frame, head: Extract<Pending, { kind: 'query' | 'execute' }>): Promise<void> | null {
    const ctx = head.ctx;
    if (!filtering(ctx)) {
      this.s.emitFrame(frame);
      return null;
    }
    // Masks or detectors apply: the row must have exactly the columns the plan was built for.
    const plan = ctx.plan;
    if (plan === null || columnCount(frame) !== plan.columns.length) throw desync(frame, head);
    if (!plan.any) {
      this.s.emitFrame(frame);
      return null;
    }
    const decoded = decodeDataRow(frame.body);
    if (needsTurns(decoded, plan)) {
      // A long value is scanned over several turns; the pump holds later frames meanwhile.
      return filterRowInTurns(decoded, plan, ctx.detected).then((values) => (values === null ? this.s.emitFrame(frame) : this.s.emit(dataRow(values))));
    }
    const values = filterRow(decoded, plan, ctx.detected);
    if (values === null) this.s.emitFrame(frame);
    else this.s.emit(dataRow(values));
    return null;
  }

  /** The output plan for the result set now arriving (enforce/output-plan.ts). */
  private plan(ctx: ResultContext, fields: ResultField[]): void {
    // Each result set comes from one statement of the Query string, under its own decision.
    const current = ctx.statements.length > 1 ? ctx.statements[ctx.index] : undefined;
    const masks = current === undefined ? ctx.masks : current.decision.action === 'mask' ? current.decision.masks : [];
    const detections = current === undefined ? ctx.detections : detectionsOf(current.decision);
    ctx.plan = planOutput(fields, masks, detections, this.s.deps.catalog.relations.current());
  }
}

// Answers to the locks Gatehouse takes ahead of a client's statements (enforce/lock-prefix.ts for a simple
// Query, enforce/lock-ahead.ts for the extended protocol), read by the relay: the messages of the DO block
// sent ahead of a pipelined Parse, Bind or Execute, and what the client sees and the audit log records
// when a lock cannot be had (Gatehouse's 55P03 refusal) or fails otherwise (the server's error, as the
// statement's own, without the block's context).

import { lockFailedFields } from '../enforce/lock-ahead.ts';
import { GatehouseError } from '../errors.ts';
import type { DecidedStatement } from '../enforce/decision-point.ts';
import { lockPrefixRefusal, lockPrefixRefusedReason, type LockPrefix } from '../enforce/lock-prefix.ts';
import { decodeCommandComplete, encodeErrorFields } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import { BE } from '../wire/message-types.ts';
import type { LockBlockUse } from './lock-statements.ts';
import type { Pending, PendingQueue, ResultContext } from './pending.ts';
import { errorMessageFor } from './error-message.ts';

/** What the answers need of the session (pg/session.ts), so that this module does not import it. */
export interface LockAnswerSink {
  emit(message: Buffer): void;
  recordRefused(statements: readonly DecidedStatement[], error: GatehouseError, status: 'refused', reason: string): void;
  writeOutcome(decision: DecidedStatement['decision'], outcome: { status: 'error'; sqlstate: string; message: string }): void;
  auditRefusedUnrun(sql: string, error: GatehouseError, reason: string): void;
}

/** The DO block's messages for one use (pg/lock-statements.ts) and its pending entry. */
export function lockAheadMessages(use: LockBlockUse, prefix: LockPrefix, ctx: ResultContext | null, sql: string): { messages: readonly Buffer[]; expect: Pending } {
  return { messages: use.messages, expect: { kind: 'lock-ahead', prefix, ctx, sql, left: use.answers, parsed: use.parsed, lost: use.lost } };
}

/**
 * One answer to a DO block (not an error): ParseComplete makes its prepared statement trusted; the last answer
 * ends the entry. Its Execute must answer with the tag DO: a prepared block replaced under its reserved name
 * by a statement of the session's own (a DEALLOCATE and a PREPARE run inside a function, which Gatehouse
 * cannot see; SQL PREPARE cannot make a DO) ran in its place and locked nothing, so the client's messages
 * behind it ran unlocked (red-team round 19a, R19a-1). Their answers come after this one: the session ends
 * before any of them is relayed.
 */
export function lockAheadAnswered(pending: PendingQueue, head: Extract<Pending, { kind: 'lock-ahead' }>, frame: Frame): void {
  if (frame.type === BE.ParseComplete) head.parsed?.();
  if (frame.type === BE.CommandComplete && decodeCommandComplete(frame.body) !== 'DO') {
    head.lost?.();
    throw lockBlockReplaced(decodeCommandComplete(frame.body));
  }
  if (--head.left === 0) pending.shift();
}

function lockBlockReplaced(tag: string): GatehouseError {
  return new GatehouseError(
    'PROTOCOL_VIOLATION',
    `Gatehouse's lock statement ahead of this session's statement answered "${tag}" instead of "DO": its reserved prepared statement was replaced by one of the session's own (a DEALLOCATE and PREPARE of a name starting with "gatehouse_" inside a function), so the statement behind it ran without its locks; the session is closed and nothing of it is relayed`,
    { hint: 'Do not DEALLOCATE or PREPARE statements under names starting with "gatehouse_" (they are reserved for Gatehouse); reconnect.' },
  );
}

/**
 * A simple Query's LOCK prefix could not be had at once (55P03): none of the string ran. The client sees
 * Gatehouse's refusal in place of the server's error, and every statement of the string an outcome saying
 * it was refused and why.
 */
export function lockPrefixRefused(s: LockAnswerSink, ctx: ResultContext, prefix: LockPrefix, serverMessage: string): void {
  const reason = lockPrefixRefusedReason(prefix, serverMessage);
  const error = lockPrefixRefusal(reason, ctx.statements[ctx.index]?.decision.id);
  s.emit(errorMessageFor(error));
  s.recordRefused(ctx.statements.slice(ctx.index), error, 'refused', reason);
  ctx.index = ctx.statements.length;
}

/**
 * The DO block ahead of a pipelined message failed, and the server skips the client's messages up to its
 * Sync (`stretch`: their entries). The statement it was sent for is refused (55P03), or gets the server's
 * error: recorded on its Execute, or on every Execute of that statement in the stretch (the block went
 * ahead of its Parse or Bind), or, when the client's Execute has not been sent yet, on the statement
 * decided again as one never run.
 */
export function lockAheadFailed(s: LockAnswerSink, head: Extract<Pending, { kind: 'lock-ahead' }>, fields: Readonly<Record<string, string>>, stretch: readonly Pending[]): void {
  const sqlstate = fields['C'] ?? 'XX000';
  const message = fields['M'] ?? '';
  if (sqlstate === '26000') head.lost?.(); // its prepared statement was dropped (pg/lock-statements.ts): parsed again at its next use
  const targets = head.ctx !== null ? [head.ctx] : stretch.flatMap((p) => (p.kind === 'execute' && p.portal?.statement.sql === head.sql ? [p.ctx] : []));
  if (sqlstate !== '55P03') {
    for (const ctx of targets) {
      for (const st of ctx.statements.slice(ctx.index)) s.writeOutcome(st.decision, { status: 'error', sqlstate, message });
      ctx.index = ctx.statements.length;
    }
    s.emit(encodeErrorFields(BE.ErrorResponse, lockFailedFields(fields, head.prefix)));
    return;
  }
  const reason = lockPrefixRefusedReason(head.prefix, message);
  const error = lockPrefixRefusal(reason, targets[0]?.statements[targets[0].index]?.decision.id);
  s.emit(errorMessageFor(error));
  if (targets.length === 0) return s.auditRefusedUnrun(head.sql, error, reason);
  for (const ctx of targets) {
    s.recordRefused(ctx.statements.slice(ctx.index), error, 'refused', reason);
    ctx.index = ctx.statements.length;
  }
}

/**
 * An error of a Query sent with a lock prefix (enforce/lock-prefix.ts): one of the prefix's own LOCKs
 * (`inPrefix`) says so (lockFailedFields); a statement's has its position (P, in characters of the query
 * string) counted from the client's text, as PostgreSQL would have given it without the prefix.
 */
export function prefixedQueryError(frame: Frame, fields: Readonly<Record<string, string>>, prefix: LockPrefix, inPrefix: boolean): Frame {
  if (inPrefix) {
    const raw = encodeErrorFields(BE.ErrorResponse, lockFailedFields(fields, prefix));
    return { type: frame.type, raw, body: raw.subarray(5) };
  }
  const at = fields['P'];
  if (at === undefined) return frame;
  const position = Number(at) - prefix.chars;
  const raw = encodeErrorFields(BE.ErrorResponse, { ...fields, P: String(position > 0 ? position : 1) });
  return { type: frame.type, raw, body: raw.subarray(5) };
}

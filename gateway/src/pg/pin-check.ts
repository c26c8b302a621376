// The check appended to a simple Query whose write under a mask fires reviewed trigger functions
// (enforce/function-pins.ts; red-team round 18b, R18b-3), and its answers. A DO block after the client's
// last statement, in the same transaction (a string of several statements runs in one implicit block, or
// in the client's explicit one), fails (SQLSTATE GH001, shown as Gatehouse's 55000) when a trigger's function is not the definition the write
// was decided on: its pg_proc row has another digest, or a newer version of it committed (the row's xmax:
// under REPEATABLE READ the query sees the row of the transaction's snapshot, while the trigger fired the
// newest committed one). The failure fails the transaction, so the write never commits; and every message
// of the string is held (pg/client-hold.ts) until the block answers: on success they go to the client and
// the block's CommandComplete does not, on failure they are dropped and the client gets Gatehouse's
// refusal (the rows returned, notices and command tags may hold what a replaced body wrote).

import { pinChangedRefusal, type FunctionPin } from '../enforce/function-pins.ts';
import type { GatehouseError } from '../errors.ts';
import { doBlock } from '../sql/do-block.ts';
import { FUNCTION_DIGEST } from './relation-triggers.ts';
import { errorMessageFor } from './error-message.ts';
import type { Pending, ResultContext } from './pending.ts';

/** What the answers need of the session. */
export interface PinCheckHost {
  emit(message: Buffer): void;
  readonly clientOutput: { holdClient(): void; releaseHeld(): void; dropHeld(): void };
  auditRefusedUnrun(sql: string, error: GatehouseError, reason: string): void;
}

/**
 * The SQLSTATE the check raises: a class of its own, so that its failure is told apart from an error the
 * server raises after the client's last statement otherwise (a deferred constraint trigger at the implicit
 * COMMIT: PostgreSQL commits before the last statement's CommandComplete, so the check's never comes).
 */
export const PIN_CHANGED = 'GH001';

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The full transaction id of a pg_proc row's xmax, from the 32 bits stored and the epoch of the current
 * snapshot's xmax: the updater may have started after that snapshot (REPEATABLE READ), so the nearest
 * of the three candidates around it (xids are compared within 2^31 of each other, as PostgreSQL does).
 */
const FULL_XMAX = `(SELECT GREATEST(3, CASE WHEN e.base + x.v > e.cur + 2147483648 THEN e.base + x.v - 4294967296
                          WHEN e.base + x.v < e.cur - 2147483648 THEN e.base + x.v + 4294967296 ELSE e.base + x.v END)::text::pg_catalog.xid8
    FROM (SELECT p.xmax::text::bigint AS v) AS x,
         (SELECT c.cur, (c.cur >> 32) << 32 AS base FROM (SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint AS cur) AS c) AS e)`;

/**
 * The search path the check's query is parsed under: it runs in the writer's session, whose search_path the
 * writer sets, and its operators (=, <>, IS DISTINCT FROM, ||), casts and types resolve through it. A schema
 * placed before pg_catalog with `=` on text answering true made every comparison say "unchanged" and a
 * replaced body's output went out (red-team round 20a, R20a-5). Set LOCAL for the block, then put back.
 */
export const CHECK_SEARCH_PATH = 'pg_catalog, pg_temp';

/** The DO block checking `pins`, with a dollar-quote tag its text does not hold. */
export function pinCheckSql(pins: readonly FunctionPin[]): string {
  const rows = pins.map((p) => `(${p.relation}::pg_catalog.oid, ${literal(p.trigger)}, ${literal(p.digest)}, ${p.version === null ? 'NULL' : literal(p.version)}::pg_catalog.text)`).join(', ');
  const body = `DECLARE gatehouse_path pg_catalog.text := pg_catalog.current_setting('search_path');
BEGIN PERFORM pg_catalog.set_config('search_path', '${CHECK_SEARCH_PATH}', true);
IF EXISTS (SELECT FROM (VALUES ${rows}) AS w(rel, tg, digest, version)
  LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid = w.rel AND t.tgname = w.tg
  LEFT JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.oid IS NULL OR ${FUNCTION_DIGEST} IS DISTINCT FROM w.digest OR p.xmin::text IS DISTINCT FROM w.version
    OR (p.xmax::text <> '0' AND pg_catalog.pg_xact_status(${FULL_XMAX}) = 'committed'))
THEN RAISE EXCEPTION USING ERRCODE = '${PIN_CHANGED}', MESSAGE = 'gatehouse: a trigger function the write fired is not the definition it was decided on'; END IF;
PERFORM pg_catalog.set_config('search_path', gatehouse_path, true); END`;
  return doBlock(body, 'gatehouse_pin');
}

/**
 * The client's Query (as it goes upstream, `query`) with the check after its last statement, and `ctx`
 * marked so that the relay holds its answers. A newline first: the client's text may end in a `--` comment.
 */
export function withPinCheck(query: Buffer, ctx: ResultContext, pins: readonly FunctionPin[] | undefined): Buffer {
  if (pins === undefined || pins.length === 0) return query;
  ctx.pinCheck = { pins, state: 'armed' };
  const tail = Buffer.from(`\n;${pinCheckSql(pins)}`, 'utf8');
  const text = query.length - 6; // type, length, and the NUL
  const out = Buffer.allocUnsafe(query.length + tail.length);
  out[0] = query[0]!;
  out.writeInt32BE(4 + text + tail.length + 1, 1);
  query.copy(out, 5, 5, 5 + text);
  tail.copy(out, 5 + text);
  out[out.length - 1] = 0;
  return out;
}

/** Any message from upstream: the first for a checked Query starts holding the client's output. */
export function pinCheckFrame(s: PinCheckHost, head: Pending | undefined): void {
  if (head?.kind !== 'query') return;
  const check = head.ctx.pinCheck;
  if (check === undefined || check.state !== 'armed') return;
  check.state = 'holding';
  s.clientOutput.holdClient();
}

/**
 * Whether an error or notice of `ctx` answers its checked write (the string's last statement, or the check
 * after it): its message may quote what a replaced body wrote, whatever raised it (R20a-4), so it is withheld
 * like a message raised by routine code (pg/value-detail.ts).
 */
export function answersCheckedWrite(ctx: ResultContext | null): boolean {
  return ctx?.pinCheck !== undefined && ctx.index >= ctx.statements.length - 1;
}

/** A CommandComplete: the check's own (every client statement has completed) is swallowed, and the held output goes. */
export function pinCheckCompleted(s: PinCheckHost, ctx: ResultContext): boolean {
  const check = ctx.pinCheck;
  if (check === undefined || check.state !== 'holding' || ctx.index < ctx.statements.length) return false;
  check.state = 'done';
  s.clientOutput.releaseHeld();
  return true;
}

/**
 * An ErrorResponse of a checked Query. The check's (after every client statement): the held output is
 * dropped and the client gets Gatehouse's refusal (true: handled). A statement's own error: the held
 * output goes first, then the error as usual (false).
 */
export function pinCheckFailed(s: PinCheckHost, ctx: ResultContext, fields: Readonly<Record<string, string>>): boolean {
  const check = ctx.pinCheck;
  if (check === undefined || check.state !== 'holding') return false;
  check.state = 'done';
  if (ctx.index < ctx.statements.length) {
    s.clientOutput.releaseHeld();
    return false;
  }
  // After every client statement: the check failed, or it passed and the implicit COMMIT failed (a deferred
  // constraint trigger), or the check itself could not run (a timeout). The transaction failed either way;
  // nothing held is shown (PostgreSQL too sends no CommandComplete for a statement whose COMMIT failed).
  s.clientOutput.dropHeld();
  if (fields['C'] !== PIN_CHANGED) return false; // the server's error goes to the client as usual
  const error = pinChangedRefusal(check.pins, ctx.statements[0]?.decision.id, 'a function is not the definition decided on', true);
  s.emit(errorMessageFor(error));
  s.auditRefusedUnrun(ctx.statements.map((st) => st.text).join(';\n'), error, error.message);
  return true;
}

/** ReadyForQuery of a checked Query still holding (the check never answered): fail closed, nothing shown. */
export function pinCheckReady(s: PinCheckHost, ctx: ResultContext): void {
  const check = ctx.pinCheck;
  if (check === undefined || check.state !== 'holding') return;
  check.state = 'done';
  s.clientOutput.dropHeld();
  s.emit(errorMessageFor(pinChangedRefusal(check.pins, ctx.statements[0]?.decision.id, 'the check did not answer', false)));
}

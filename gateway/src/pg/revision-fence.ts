// A transaction block, and a cursor, live under the policy revision they began with (red-team round 20a,
// R20a-2, R20a-3). After an activation, a statement in a block begun under another revision, and a FETCH
// or MOVE of a cursor declared under one (or a protocol Execute of it, decided as a FETCH: pg/cursor-execute.ts),
// are refused with 40001 (retry the transaction, declare again): their snapshot, or rows, were chosen
// under the older policy.

import { parseSync } from 'libpg-query';
import { currentEngineOrNull, type DecidedStatement } from '../enforce/decided-statement.ts';
import type { DecisionContext } from '../enforce/decision-context.ts';
import { GatehouseError } from '../errors.ts';
import { asNode, str } from '../sql/ast.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import type { TransactionStatus } from '../wire/backend.ts';
import type { Pending } from './pending.ts';

/** PostgreSQL's CURSOR_OPT_HOLD (parsenodes.h): DECLARE ... WITH HOLD. */
const CURSOR_OPT_HOLD = 0x0020;

/** What a statement does to the transaction: opens a block, ends it, ends it and opens the next (AND CHAIN), or neither. */
type TransactionEffect = 'begin' | 'end' | 'chain' | 'none';

/** What a statement does with a SQL cursor. */
type CursorEffect =
  | { kind: 'declare'; name: string; hold: boolean }
  | { kind: 'read'; name: string } // FETCH or MOVE
  | { kind: 'close'; name: string | null } // null: CLOSE ALL
  | { kind: 'none' };

interface Effect {
  transaction: TransactionEffect;
  cursor: CursorEffect;
}

const NO_EFFECT: Effect = { transaction: 'none', cursor: { kind: 'none' } };

/** The top-level node of a statement parsed a moment ago by the same parser (a failure here is a bug: it throws). */
function nodeOf(parsed: ParsedStatement): { type: string; body: Record<string, unknown> } {
  const stmts = (parseSync(parsed.text) as { stmts?: { stmt?: unknown }[] }).stmts ?? [];
  const node = stmts.length === 1 ? asNode(stmts[0]!.stmt) : null;
  if (node === null) throw new Error(`expected one statement, found ${stmts.length}`);
  return node;
}

function transactionEffect(kind: unknown, chain: boolean): TransactionEffect {
  switch (kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return 'begin';
    case 'TRANS_STMT_COMMIT':
    case 'TRANS_STMT_ROLLBACK':
      return chain ? 'chain' : 'end';
    case 'TRANS_STMT_PREPARE': // the session's transaction ends (it lives on, prepared, but runs nothing more)
      return 'end';
    default: // SAVEPOINT, RELEASE, ROLLBACK TO (the snapshot stays), COMMIT/ROLLBACK PREPARED (outside blocks)
      return 'none';
  }
}

/** Effects by statement text, so that BEGIN and COMMIT are parsed again once, not at every use (emptied when full). */
const effects = new Map<string, Effect>();
const EFFECTS_KEPT = 1024;

/** Only transaction and cursor statements are parsed again; every other statement has no effect here. */
export function effectOf(parsed: ParsedStatement | null): Effect {
  if (parsed === null) return NO_EFFECT;
  const command = parsed.facts.command;
  if (command !== 'TransactionStmt' && command !== 'DeclareCursorStmt' && command !== 'FetchStmt' && command !== 'ClosePortalStmt') return NO_EFFECT;
  let effect = effects.get(parsed.text);
  if (effect === undefined) {
    if (effects.size >= EFFECTS_KEPT) effects.clear();
    effects.set(parsed.text, (effect = effectOfNode(parsed)));
  }
  return effect;
}

function effectOfNode(parsed: ParsedStatement): Effect {
  const command = parsed.facts.command;
  const { type, body } = nodeOf(parsed);
  switch (type) {
    case 'TransactionStmt':
      return { transaction: transactionEffect(body['kind'], body['chain'] === true), cursor: { kind: 'none' } };
    case 'DeclareCursorStmt':
      return { transaction: 'none', cursor: { kind: 'declare', name: str(body, 'portalname') ?? '', hold: ((Number(body['options']) || 0) & CURSOR_OPT_HOLD) !== 0 } };
    case 'FetchStmt':
      return { transaction: 'none', cursor: { kind: 'read', name: str(body, 'portalname') ?? '' } };
    case 'ClosePortalStmt':
      return { transaction: 'none', cursor: { kind: 'close', name: str(body, 'portalname') } };
    default:
      throw new Error(`${command} parsed as ${type}`);
  }
}

function changedInTransaction(decisionId: string | undefined): GatehouseError {
  return new GatehouseError('POLICY_CHANGED_IN_TRANSACTION', 'the Gatehouse policy changed during this transaction, so its statements are no longer run', {
    detail: 'A new policy revision was activated after the transaction began; what the transaction reads was decided under the older one.',
    hint: 'Roll back and retry the transaction.',
    ...(decisionId !== undefined ? { decisionId } : {}),
  });
}

function changedForCursor(name: string, decisionId: string | undefined): GatehouseError {
  return new GatehouseError('POLICY_CHANGED_FOR_CURSOR', `the Gatehouse policy changed since cursor "${name}" was declared, so it can no longer be read`, {
    detail: 'A new policy revision was activated after the cursor was declared; its rows were chosen under the older one.',
    hint: 'Close the cursor and declare it again.',
    ...(decisionId !== undefined ? { decisionId } : {}),
  });
}

/**
 * The revision the session's transaction and cursors began under, as Gatehouse forwards statements
 * (predicted from BEGIN, COMMIT, ROLLBACK, Execute and Sync, so that pipelined statements are judged
 * in order) and as the server confirms it (ReadyForQuery with nothing else in flight).
 */
export class RevisionFence {
  /** The revision the open transaction (explicit block, or an extended batch's implicit one) began under; null: none open. */
  private block: string | null = null;
  /** The open transaction is the implicit one of an extended batch: it ends at Sync. */
  private implicit = false;
  /** The revision of the last statement forwarded. */
  private last: string | null = null;
  private readonly cursors = new Map<string, { revision: string; hold: boolean }>();

  /** `decision`: where the active policy revision is read (for a block Gatehouse did not foresee: ready). */
  constructor(private readonly decision: () => Pick<DecisionContext, 'engines'>) {}

  private current(): string | null {
    return currentEngineOrNull(this.decision())?.revision ?? null;
  }

  /** Why these decided statements may not run (a block or a cursor older than their revision), or null. */
  refusal(statements: readonly DecidedStatement[]): GatehouseError | null {
    let block = this.block;
    for (const s of statements) {
      const revision = s.decision.revision;
      const effect = effectOf(s.parsed);
      const ends = effect.transaction === 'end' || effect.transaction === 'chain';
      if (block !== null && block !== revision && !ends) return changedInTransaction(s.decision.id);
      if (effect.cursor.kind === 'read') {
        const declared = this.cursors.get(effect.cursor.name);
        if (declared !== undefined && declared.revision !== revision) return changedForCursor(effect.cursor.name, s.decision.id);
      }
      block = nextBlock(block, effect.transaction, revision);
    }
    return null;
  }

  /** A message forwarded upstream. */
  forwarded(p: Pending): void {
    switch (p.kind) {
      case 'query':
        return this.ran(p.ctx.statements, false);
      case 'execute': // a SQL cursor's too: decided as the FETCH it amounts to (pg/cursor-execute.ts)
        return this.ran(p.ctx.statements, true);
      case 'sync':
        if (this.implicit) [this.block, this.implicit] = [null, false];
        return;
      default:
        return;
    }
  }

  /** The server's ReadyForQuery; `idle`: nothing else is in flight, so `status` is the session's now. */
  ready(status: TransactionStatus, idle: boolean): void {
    if (!idle) return;
    if (status === 'I') {
      [this.block, this.implicit] = [null, false];
      for (const [name, c] of this.cursors) if (!c.hold) this.cursors.delete(name);
    } else if (this.block === null) {
      this.block = this.last ?? this.current(); // a block Gatehouse did not foresee: fail closed, under the last revision
    }
  }

  private ran(statements: readonly DecidedStatement[], extended: boolean): void {
    for (const s of statements) {
      const revision = s.decision.revision;
      const effect = effectOf(s.parsed);
      this.last = revision;
      if (effect.transaction === 'none') {
        if (extended && this.block === null) [this.block, this.implicit] = [revision, true];
      } else {
        this.block = nextBlock(this.block, effect.transaction, revision);
        this.implicit = false;
      }
    }
  }

  /**
   * A statement the server completed (its CommandComplete): its cursor effect applies now, not when it
   * was forwarded, since a DECLARE the server refused (the name is taken) or a CLOSE it never ran (an
   * error ahead of it) changes no cursor (red-team round 20c, R20c-1 and R20c-2).
   */
  completed(statement: DecidedStatement): void {
    const c = effectOf(statement.parsed).cursor;
    if (c.kind === 'declare') this.cursors.set(c.name, { revision: statement.decision.revision, hold: c.hold });
    else if (c.kind === 'close') {
      if (c.name === null) this.cursors.clear();
      else this.cursors.delete(c.name);
    }
  }
}

function nextBlock(block: string | null, effect: TransactionEffect, revision: string): string | null {
  switch (effect) {
    case 'begin':
      return block ?? revision;
    case 'end':
      return null;
    case 'chain':
      return revision;
    case 'none':
      return block;
    default: {
      const never: never = effect;
      throw new Error(`unknown transaction effect ${String(never)}`);
    }
  }
}

// Which extended-protocol messages get Gatehouse's DO block of `LOCK TABLE ... NOWAIT` (enforce/lock-ahead.ts)
// right ahead of them, and sending it. Two cases:
// - a Parse, Bind or Execute that waited for the statements ahead of it (pg/statement-order.ts; red-team
//   round 16, R16-3);
// - a Parse or Bind that waited for nothing, of a statement naming a relation: a migration that took its
//   lock after the last pg_locks poll (every 250 ms) and commits before the statement runs would otherwise
//   make the server parse and plan a definition the statement was not decided on (red-team round 14, R14-3:
//   a column swapped with a masked one, a view redefined to read a masked table; round 18a, R18a-3: an
//   unmasked table replaced by a view of the SSNs under its name, which any statement on it then reads).
//   The block goes in the same write as the message (no round trip); its locks last to the end of the
//   transaction, so the statement's Execute, which runs the plan made at Bind in the same transaction, needs
//   none, and a Bind right behind its own locked Parse (the usual Parse, Bind, Execute, Sync) gets none
//   either. A Describe of such a statement gets it too: the server revalidates the statement there, as at
//   Bind (red-team round 18a, R18a-1). The block is prepared once per relation set and session
//   (pg/lock-statements.ts). See docs/data-path.md for what a migration can still do within the poll's window.
// Also here, as it goes ahead of the same messages: the Parse and Bind of a statement the policy sends for
// approval (decided `approve` at Parse: approvalAtExecute) are held in Gatehouse, not sent, until its Execute goes up (decided
// after the wait) or the client asks for answers (Sync, Flush, Query): sent before the wait, they held the
// table's lock in the implicit transaction for all of it, a migration queued behind them and every later
// statement on the table behind the migration (red-team round 17b). The server would answer them only at
// the client's Sync or Flush, which wait behind the Execute's decision: the client sees the same messages.
// When something else sent them ahead of that Execute in the open transaction (another statement's Execute,
// a Flush: pg/approval-exposure.ts), the Execute is refused instead of waiting with their locks (R18a-4).

import type { DecidedStatement } from '../enforce/decided-statement.ts';
import type { MaskRule } from '../policy/types.ts';
import { lockPrefixOfSql } from '../enforce/lock-ahead.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import type { RelationCatalog } from '../enforce/relation-catalog.ts';
import type { StatementKind } from '../sql/facts.ts';
import { ApprovalExposure } from './approval-exposure.ts';
import { lockAheadMessages } from './lock-answers.ts';
import { LockStatements } from './lock-statements.ts';
import type { Pending, PendingQueue, Portal, PreparedStatement, ResultContext } from './pending.ts';

/** What the locks read of a statement's decision at Parse. */
export interface ParseDecision {
  statements: readonly DecidedStatement[];
  masks: readonly MaskRule[];
}

/**
 * Whether a decided statement names no relation and calls no user function (its Parse and Bind then wait
 * for no lock: PendingQueue.otherStatementInFlight). A SQL function the planner inlines at Bind has its
 * body analysed there, its tables locked, and waits for a migration's lock like a table named (red-team
 * round 18a, R18a-5). Any function counts: the decision's user_functions leaves out one created since
 * the routine catalog was read (the function of R18a-5 was), and a bare name may be either.
 */
export function namesNoRelation(d: Pick<ParseDecision, 'statements'>): boolean {
  return d.statements.every((s) => s.parsed !== null && s.parsed.facts.tablesRead.length === 0 && s.parsed.facts.tablesWritten.length === 0 && s.parsed.facts.functions.length === 0);
}

/**
 * Whether a statement's lock block may be the session's prepared one (pg/lock-statements.ts): only for a
 * plain read (SELECT, writing no table, calling no function). A prepared block can be replaced under its
 * reserved name by the session's own SQL where Gatehouse cannot see it (a DEALLOCATE and PREPARE inside a
 * function): the replacement is told by its tag at once (pg/lock-answers.ts) and the session ends before any
 * answer behind it is relayed, which keeps a read's rows from the client; a write behind it would already
 * have run, and may commit at the Sync before the Terminate is read (red-team round 19a, R19a-1). So
 * anything else gets the one-shot block, which parses its own statement every time.
 */
export function lockReuseSafe(d: Pick<ParseDecision, 'statements'>): boolean {
  return d.statements.every((s) => s.parsed !== null && s.parsed.facts.kind === 'select' && s.parsed.facts.tablesWritten.length === 0 && s.parsed.facts.functions.length === 0);
}

/** What the locks need of the session (pg/session.ts), so that this module does not import it. */
export interface ArrivalLockHost {
  readonly pending: PendingQueue;
  sendUpstream(message: Buffer): void;
  searchPath(): readonly string[];
  relations(): RelationCatalog | null;
  /** The session's reserved name for the DO blocks' portal and statements (pg/lock-statements.ts). */
  readonly lockName: string;
  /** Keeps what is queued for upstream, and what follows, until releaseUpstream or a Sync, Flush or Query (pg/session-output.ts). */
  holdUpstream(): void;
  releaseUpstream(): void;
  /** The server is certainly in a failed transaction block (pg/failed-block.ts): nothing naming a relation runs there, so nothing is locked. */
  inFailedBlock(): boolean;
}

/** Statement kinds that cannot drop the session's prepared statements (a DEALLOCATE or DISCARD can, and a CALL or DO may run one). */
const KEEPS_PREPARED: ReadonlySet<StatementKind> = new Set<StatementKind>(['select', 'insert', 'update', 'delete', 'merge', 'copy', 'explain', 'set', 'show', 'transaction', 'two_phase']);

export class ArrivalLocks {
  /** The statement whose relations a DO block locked in the current transaction, until a Query, Execute or Sync goes up. */
  private lockedFor: PreparedStatement | null = null;
  private readonly blocks: LockStatements;
  /** Which held Parse and Bind messages of statements awaiting approval went up ahead of their Execute. */
  private readonly exposure = new ApprovalExposure();

  /**
   * Each statement's prefix as last worked out, with the catalog snapshot and search path it was worked out
   * under: a Bind, Describe or Execute under the same ones (a prepared statement's every use) reuses it
   * instead of analysing the text again; a new snapshot or path (both replaced, never changed in place)
   * works it out again, so a table created since the Parse is still found.
   */
  private readonly prefixes = new WeakMap<PreparedStatement, { relations: RelationCatalog | null; path: readonly string[]; prefix: LockPrefix | null }>();

  constructor(private readonly host: ArrivalLockHost) {
    this.blocks = new LockStatements(host.lockName);
  }

  private prefixOf(statement: PreparedStatement): LockPrefix | null {
    const relations = this.host.relations();
    const path = this.host.searchPath();
    const known = this.prefixes.get(statement);
    if (known !== undefined && known.relations === relations && known.path === path) return known.prefix;
    const prefix = lockPrefixOfSql(statement.sql, path, relations);
    this.prefixes.set(statement, { relations, path, prefix });
    return prefix;
  }

  /** Ahead of a Parse: `waited` (it waited for the statements ahead) or a statement locked on arrival. */
  beforeParse(statement: PreparedStatement, d: ParseDecision, waited: boolean): void {
    const prefix = this.prefixOf(statement);
    statement.namesNoRelation = namesNoRelation(d);
    // Every statement naming a relation (red-team round 18a, R18a-3: not only those under a mask or naming a
    // view): its Bind and Describe look the relation up again, so one with no prefix now (a table created
    // since the catalog was read) is tried again there.
    statement.lockedOnArrival = !statement.namesNoRelation;
    statement.awaitsApproval = d.statements.some((s) => s.approvalAtExecute === true);
    statement.lockPrepared = lockReuseSafe(d);
    if (statement.awaitsApproval) this.hold(statement, null);
    if (waited || statement.lockedOnArrival) this.send(prefix, statement, null);
  }

  /** Ahead of a Bind of `portal` (not decided: PostgreSQL plans it there with the definition it finds). */
  beforeBind(statement: PreparedStatement, waited: boolean, portal: Portal): void {
    if (statement.awaitsApproval === true) this.hold(statement, portal);
    if (!waited && (statement.lockedOnArrival !== true || this.lockedFor === statement)) return;
    this.send(this.prefixOf(statement), statement, null);
  }

  /**
   * Ahead of a Describe of a prepared statement: PostgreSQL revalidates its cached query there (taking its
   * relations' locks, waiting for a migration's, and analysing it again on the new definition once that
   * commits), and the Bind behind it plans what the Describe analysed (red-team round 18a, R18a-1). So a
   * statement locked on arrival gets the block here too, unless its relations are locked already.
   */
  beforeDescribe(statement: PreparedStatement): void {
    // PostgreSQL takes the statement's locks at its Describe too: held with it, as its Parse (red-team round 20b, R20b-1).
    if (statement.awaitsApproval === true) this.hold(statement, null);
    if (statement.lockedOnArrival !== true || this.lockedFor === statement) return;
    // In a failed block the server revalidates nothing at a Describe (25P02 for a statement with columns,
    // its parameters and NoData for one without): no lock, so the client gets PostgreSQL's own answer. But
    // a Describe is never set aside behind the statements ahead (pg/statement-order.ts), so the failed block
    // is certain only with none of them in flight: a Query ROLLBACK ahead of it in the same write ends the
    // block before the server reads it (red-team round 18a: the Describe then went up unlocked).
    const failed = this.host.inFailedBlock() && !this.host.pending.statementsInFlight();
    this.send(this.prefixOf(statement), statement, null, failed);
  }

  /** The Parse (portal null) or Bind of a statement awaiting approval is held with what follows it (see the header). */
  private hold(statement: PreparedStatement, portal: Portal | null): void {
    this.host.holdUpstream();
    this.exposure.hold(statement, portal);
  }

  /** A Flush (the client's or Gatehouse's), or a Sync or Query (`end`: of the implicit transaction), was queued for upstream. */
  answersAsked(kind: 'flush' | 'end'): void {
    this.exposure.released({ by: kind });
  }

  /**
   * Whether an approval wait at an Execute of `portal` would hold locks its statement's own Parse or Bind
   * took: they went up ahead of it in the open transaction (pg/approval-exposure.ts; refused: R18a-4).
   */
  approvalWouldHoldLocks(portal: Portal): boolean {
    return this.exposure.exposed(portal);
  }

  /** Ahead of an Execute that waited for the statements ahead. */
  beforeExecute(statement: PreparedStatement, ctx: ResultContext): void {
    this.send(this.prefixOf(statement), statement, ctx);
  }

  /**
   * A client message went up: a Query, an Execute (a COMMIT, say) or a Sync may end the transaction holding
   * the locks; a Query or Execute of anything but the kinds below may drop the prepared blocks (DEALLOCATE,
   * DISCARD; pg/lock-statements.ts).
   */
  forwarded(expect: Pending): void {
    const kind = expect.kind;
    if (kind === 'query' || kind === 'execute' || kind === 'sync') this.lockedFor = null;
    if (kind === 'execute') {
      this.host.releaseUpstream();
      this.exposure.released({ by: 'execute', portal: expect.portal });
    }
    if ((kind === 'query' || kind === 'execute') && !expect.ctx.statements.every((s) => s.parsed !== null && KEEPS_PREPARED.has(s.parsed.facts.kind))) this.blocks.forget();
  }

  /** `failed`: the server is certainly in a failed block when it reads the message (pg/failed-block.ts, true only with nothing in flight). */
  private send(prefix: LockPrefix | null, statement: PreparedStatement, ctx: ResultContext | null, failed = this.host.inFailedBlock()): void {
    if (prefix === null || failed) return;
    // An approved write's block goes up only at its release (held with its Parse and Bind): a lock held
    // elsewhere at that moment is waited for briefly, never queued for (enforce/lock-ahead.ts lockBlockSql).
    const kind = statement.awaitsApproval === true ? 'patient' : statement.lockPrepared === true ? 'prepared' : 'one-shot';
    const { messages, expect } = lockAheadMessages(this.blocks.use(prefix, kind), prefix, ctx, statement.sql);
    for (const m of messages) this.host.sendUpstream(m);
    this.host.pending.push(expect);
    this.lockedFor = statement;
  }
}

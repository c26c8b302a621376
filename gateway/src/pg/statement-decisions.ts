// A session's Query, Parse and Execute from decision to upstream: each is decided (now, or when its
// decision comes: pg/decision-wait.ts), admitted (pg/statement-admission.ts), then forwarded with its
// masks, lock prefix and pin check, or refused in order (pg/session-refusals.ts) and audited.

import type { QueryDecision } from '../enforce/decision-point.ts';
import { GatehouseError } from '../errors.ts';
import { encodeDescribe, encodeParse } from '../wire/frontend.ts';
import type { Frame } from '../wire/framer.ts';
import { SliceStop } from '../work-slices.ts';
import type { ArrivalLocks } from './arrival-locks.ts';
import type { CopyInTracker } from './copy-in.ts';
import { admitCursorExecute, cursorFetchText } from './cursor-execute.ts';
import type { DecisionWait } from './decision-wait.ts';
import { duplicateNameRefusal } from './duplicate-name.ts';
import { newResultContext, type Pending, type Portal, type PreparedStatement } from './pending.ts';
import { withPinCheck } from './pin-check.ts';
import type { PortalTable } from './portal-table.ts';
import type { RevisionFence } from './revision-fence.ts';
import type { SearchPathTracker } from './search-path-tracker.ts';
import { refuseExtended, refuseSimple, type RefusalHost } from './session-refusals.ts';
import { oversizedText } from './statement-limits.ts';
import { admit, cancelledWait, decideText, limitRefused, type DecidingDeps } from './statement-admission.ts';
import type { DecidedStatement } from '../enforce/decision-point.ts';
import { executeUpstream, queryUpstream } from './upstream-messages.ts';

/** What deciding and forwarding statements needs of the session. */
export interface DecisionsHost extends RefusalHost {
  readonly deps: DecidingDeps;
  readonly portals: Pick<PortalTable, 'target' | 'noteDeclared'>;
  /** The policy revisions of the open transaction and the cursors (pg/revision-fence.ts). */
  readonly fence: Pick<RevisionFence, 'refusal'>;
  readonly isClosed: boolean;
  /** Sends a client message (or what replaces it) upstream, expecting `expect`. */
  forward(raw: Buffer, expect: Pending): void;
  recordRefused(statements: readonly DecidedStatement[], error: GatehouseError, status?: 'refused' | 'aborted', reason?: string): void;
  /** After a statement that may have changed search_path: asks the server (pg/search-path.ts). */
  probeSearchPathIfStale(): void;
}

/** The session's parts the decisions drive. */
export interface DecisionsParts {
  readonly wait: DecisionWait;
  readonly searchPath: SearchPathTracker;
  readonly locks: ArrivalLocks;
  readonly copyIn: CopyInTracker;
  /** Upstream statement names: a random per-session prefix and a counter, never reused. */
  readonly statementPrefix: string;
}

export class StatementDecisions {
  private statementCounter = 0;

  constructor(
    private readonly s: DecisionsHost,
    private readonly p: DecisionsParts,
  ) {}

  /** Applies a statement's decision when it comes (see hold); refusals keep the protocol's semantics. */
  private whenDecided(d: QueryDecision | Promise<QueryDecision>, protocol: 'simple' | 'extended', apply: (d: QueryDecision) => void, stop?: SliceStop): void {
    // Decided at once (a cached verdict): applied without the handlers a wait needs.
    if (!(d instanceof Promise)) return this.applyDecided(d, apply);
    this.p.wait.hold(d, {
      resume: (decided) => this.applyDecided(decided, apply),
      cancel: (error) => (protocol === 'simple' ? refuseSimple(this.s, error) : refuseExtended(this.s, error)),
      late: (decided) => this.s.recordRefused(decided.statements, cancelledWait(), this.s.isClosed ? 'aborted' : 'refused'),
    }, stop);
  }

  private applyDecided(decided: QueryDecision, apply: (d: QueryDecision) => void): void {
    // Upstream failed an earlier message of this batch while this one was decided: discarded, as
    // PostgreSQL would. A statement the policy refused is recorded as refused whichever came
    // first (the upstream error or the decision), so that its record does not depend on timing.
    if (this.s.batch.skipUntilSync) return this.recordDiscarded(decided);
    apply(decided);
  }

  /**
   * A Query or Parse that PostgreSQL would discard (an earlier message of its batch failed) is
   * never sent, but it was attempted: it is decided (an `approve` opens no request) and audited,
   * with the same record whether the upstream error or the decision came first.
   */
  auditDiscarded(text: string, protocol: 'simple' | 'extended'): void {
    const stop = new SliceStop();
    const d = decideText(this.s.deps, text, protocol, true, protocol === 'simple' ? [] : 'unbound', true, stop);
    this.p.wait.hold(d, { resume: (x) => this.recordDiscarded(x), cancel: () => {}, late: (x) => this.recordDiscarded(x) }, stop);
  }

  /** A refusal by policy is recorded as refused; any other statement as aborted (it did not run). */
  private recordDiscarded(d: QueryDecision): void {
    if (d.kind === 'refuse') return this.s.recordRefused(d.statements, d.error);
    this.s.recordRefused(d.statements, cancelledWait(), 'aborted');
  }

  /**
   * A Query or Parse whose text is over limits.max_statement_bytes, cut by the framer: refused (54000) and
   * audited from its first bytes, in order with the messages around it, as decide() would refuse it.
   */
  onOversized(frame: Frame, length: number): void {
    const cut = oversizedText(frame, length, this.s.deps.limits);
    if (this.p.copyIn.state === 'active') this.p.copyIn.clientMessage(cut.protocol === 'simple' ? 'query' : 'parse'); // throws: ends the session
    if (this.s.batch.skipUntilSync) return this.auditDiscarded(cut.head, cut.protocol); // after an error in a batch, as any Query or Parse
    const decided = limitRefused(this.s.deps.decision, cut.head, cut.error);
    if (cut.protocol === 'simple') this.whenDecided(decided, 'simple', (d) => this.queryDecided(d, frame.raw));
    else this.whenDecided(decided, 'extended', (d) => this.parseDecided(d, cut.name, cut.head, [], frame.raw, false));
  }

  onQuery(sql: string, raw: Buffer): void {
    const stop = new SliceStop(); // set when the client cancels or leaves: a long string's decision ends at its next slice
    this.whenDecided(decideText(this.s.deps, sql, 'simple', true, [], false, stop), 'simple', (decided) => this.queryDecided(decided, raw), stop);
  }

  private queryDecided(decided: QueryDecision, raw: Buffer): void {
    const d = admit(decided, this.p.searchPath, this.s.fence);
    if (d.kind === 'refuse') {
      this.s.recordRefused(d.statements, d.error);
      refuseSimple(this.s, d.error);
      if (d.pathUnknown) {
        this.s.probeSearchPathIfStale(); // so that the next statement can be decided
        this.s.batch.forwarded = false;
      }
      return;
    }
    // Masked tables replaced (enforce/mask-rewrite.ts); the relations checked locked first (enforce/lock-prefix.ts).
    const ctx = newResultContext(d.statements, d.masks);
    const prefix = d.lockPrefix;
    if (prefix !== null) ctx.lockPrefix = { prefix, left: prefix.statements };
    this.s.forward(withPinCheck(queryUpstream(raw, d.forwardText, prefix), ctx, d.functionPins), { kind: 'query', ctx });
    for (const name of d.cursors) this.s.portals.noteDeclared(name);
    this.p.searchPath.noteForwarded(d.statements);
    this.s.probeSearchPathIfStale();
    // PostgreSQL ends the implicit transaction of an unsynced extended batch at a simple Query.
    this.s.batch.forwarded = false;
  }

  /** `lockAhead`: the Parse waited for the statements ahead of it (pg/statement-order.ts). */
  onParse(name: string, sql: string, paramTypes: number[], raw: Buffer, lockAhead: boolean): void {
    // A name in use is refused here, after what PostgreSQL reports first (pg/duplicate-name.ts).
    const duplicate = duplicateNameRefusal(name, sql, this.s.statements, this.s.deps.limits);
    if (duplicate !== null) return refuseExtended(this.s, duplicate);
    // Decided here so that a statement that cannot run is never prepared upstream; each Execute
    // is decided again (and audited) with the policy active at that moment.
    const stop = new SliceStop();
    this.whenDecided(decideText(this.s.deps, sql, 'extended', false, 'unbound', false, stop), 'extended', (decided) => this.parseDecided(decided, name, sql, paramTypes, raw, lockAhead), stop);
  }

  private parseDecided(decided: QueryDecision, name: string, sql: string, paramTypes: number[], raw: Buffer, lockAhead: boolean): void {
    const d = admit(decided, this.p.searchPath, this.s.fence);
    if (d.kind === 'refuse') {
      this.s.recordRefused(d.statements, d.error);
      if (name === '') {
        // PostgreSQL drops the unnamed statement before it parses a new one, so after a failed
        // Parse there is none (a Describe or Bind of it gets 26000): the same here and upstream.
        const dropped = this.s.statements.get('') ?? null;
        this.s.statements.delete('');
        refuseExtended(this.s, d.error, { dropped });
      } else {
        refuseExtended(this.s, d.error);
      }
      return;
    }
    // Masks at the source: the statement is prepared upstream with its masked tables replaced.
    const preparedSql = d.forwardText ?? sql;
    const upstreamName = name === '' ? '' : `${this.p.statementPrefix}${++this.statementCounter}`;
    const statement: PreparedStatement = { name, upstreamName, sql, preparedSql, fields: null, subjects: d.statements[0]?.subjects ?? null };
    // The statement it replaces (only ever the unnamed one: a name in use is refused in onParse), put
    // back if the server skips this Parse (upstream-relay.ts undoNameChanges).
    const replaced = this.s.statements.get(name) ?? null;
    this.s.statements.set(name, statement);
    const unchanged = name === '' && d.forwardText === null;
    this.p.locks.beforeParse(statement, d, lockAhead); // waited for the statements ahead (pg/statement-order.ts), or locked on arrival
    this.s.forward(unchanged ? raw : encodeParse({ name: upstreamName, sql: preparedSql, paramTypes }), { kind: 'parse', statement, replaced });
  }

  onExecute(portalName: string, maxRows: number, raw: Buffer, lockAhead: boolean): void {
    const portal = this.s.portals.target(portalName);
    // Not a portal bound here: a cursor this session DECLAREd, or a name refused (pg/cursor-execute.ts).
    if (portal === null || portal instanceof GatehouseError) return this.onCursorExecute(portalName, maxRows, raw, portal);
    this.whenDecided(decideText(this.s.deps, portal.statement.sql, 'extended', true, portal.params ?? [], false, undefined, this.p.locks.approvalWouldHoldLocks(portal)), 'extended', (decided) =>
      this.executeDecided(decided, portal, maxRows, raw, portalName, lockAhead),
    );
  }

  /**
   * An Execute of a SQL cursor reads its rows like FETCH: decided and audited as that FETCH (a name refused
   * anyway, `refusal`, is decided only to be audited: an `approve` opens no request), forwarded as it came.
   */
  private onCursorExecute(name: string, maxRows: number, raw: Buffer, refusal: GatehouseError | null): void {
    const stop = new SliceStop();
    const decided = decideText(this.s.deps, cursorFetchText(name, maxRows), 'extended', true, [], refusal !== null, stop);
    this.whenDecided(decided, 'extended', (x) => {
      const d = admitCursorExecute(x, name, refusal, this.p.searchPath, this.s.fence);
      if (d.kind === 'refuse') {
        this.s.recordRefused(d.statements, d.error);
        return refuseExtended(this.s, d.error);
      }
      this.s.forward(raw, { kind: 'execute', ctx: newResultContext(d.statements, d.masks), portal: null });
    }, stop);
  }

  private executeDecided(decided: QueryDecision, portal: Portal, maxRows: number, raw: Buffer, portalName: string, lockAhead: boolean): void {
    const sql = portal.statement.sql;
    const d = admit(decided, this.p.searchPath, this.s.fence);
    if (d.kind === 'refuse') {
      this.s.recordRefused(d.statements, d.error);
      refuseExtended(this.s, d.error);
      return;
    }
    if ((d.forwardText ?? sql) !== portal.statement.preparedSql) {
      // The masks decided now differ from those the statement was prepared with (the policy changed).
      const changed = new GatehouseError('FEATURE_NOT_SUPPORTED', 'the masks Gatehouse applies to this prepared statement changed since it was prepared (a new policy is active), so it was not run', {
        hint: 'Prepare the statement again.',
      });
      this.s.recordRefused(d.statements, changed);
      refuseExtended(this.s, changed);
      return;
    }
    const ctx = newResultContext(d.statements, d.masks);
    if (lockAhead) this.p.locks.beforeExecute(portal.statement, ctx);
    if ((ctx.masks.length > 0 || ctx.detections.length > 0) && portal.fields === null) {
      // Masking and content detection need the portal's columns; the client did not ask, so Gatehouse asks quietly.
      this.s.sendUpstream(encodeDescribe('P', portal.upstreamName));
      this.s.pending.push({ kind: 'describe', hidden: true, target: portal });
    }
    this.s.forward(executeUpstream(portal, portalName, maxRows, raw), { kind: 'execute', ctx, portal });
    for (const name of d.cursors) this.s.portals.noteDeclared(name);
    this.p.searchPath.noteForwarded(d.statements);
  }

  /** A statement the client prepared or bound, never run because the lock ahead of it failed: decided again and audited as refused. */
  auditRefusedUnrun(sql: string, error: GatehouseError, reason: string): void {
    const record = (d: QueryDecision): void => this.s.recordRefused(d.statements, error, 'refused', reason);
    this.p.wait.hold(decideText(this.s.deps, sql, 'extended', true, 'unbound', true), { resume: record, cancel: () => undefined, late: record });
  }
}

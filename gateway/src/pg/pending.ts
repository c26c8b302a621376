// What the gateway expects back from upstream, in order. Every message forwarded upstream that
// produces a response adds one entry, so each upstream message is attributed to the request it
// answers, and Gatehouse's own denials (swap-error, refused-query) appear exactly where the client
// expects them. It also models PostgreSQL's rule for errors in the extended protocol (see
// skipsUntilSync) and says which responses each entry can produce (see canProduce).

import type { DecidedStatement } from '../enforce/decided-statement.ts';
import type { FunctionPin } from '../enforce/function-pins.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { BE } from '../wire/message-types.ts';
import type { DetectionCounts, Detector } from '../enforce/content-detectors.ts';
import type { OutputPlan, ResultField } from '../enforce/output-plan.ts';
import type { DetectRule, MaskRule } from '../policy/types.ts';
import type { SubjectPlan } from '../enforce/hidden-subjects.ts';
import type { SubjectCollector } from '../audit/subjects.ts';

/** A prepared statement the client created with Parse. */
export interface PreparedStatement {
  /** The client's name for it. */
  name: string;
  /**
   * The name Gatehouse gave it upstream: unique in the session and never reused, so a name
   * always means exactly the SQL Gatehouse decided on, whatever the database refused or skipped.
   * The unnamed statement keeps the empty name (PostgreSQL drops it before every Parse).
   */
  upstreamName: string;
  /** The client's SQL, which every Execute is decided on. */
  sql: string;
  /** The SQL prepared upstream: the client's, or its rewrite for masks at the source. */
  preparedSql: string;
  /** RowDescription fields from a Describe of the statement, when the client asked for one. */
  fields: readonly ResultField[] | null;
  /** Hidden subject columns of `preparedSql` (enforce/subject-columns.ts), stripped from every Describe; null: none. */
  subjects?: SubjectPlan | null;
  /** Whether its SQL names no relation (its Parse and Bind then wait for no relation lock: PendingQueue.otherStatementInFlight); absent: it may. */
  namesNoRelation?: boolean;
  /** Whether Gatehouse locks its relations ahead of its Parse and Bind even when they waited for nothing (pg/arrival-locks.ts). */
  lockedOnArrival?: boolean;
  /** Whether the policy sends it for approval (decided `approve` at Parse): its Parse and Bind wait in Gatehouse for its Execute (pg/arrival-locks.ts). */
  awaitsApproval?: boolean;
  /** Whether its lock block may be a prepared one the session reuses (pg/arrival-locks.ts lockReuseSafe); absent: one-shot. */
  lockPrepared?: boolean;
}

/** A portal the client created with Bind. */
export interface Portal {
  /** The client's name for it. */
  name: string;
  /** Its name upstream (pg/portal-table.ts): reserved, unique in the session, never reused; '' for the unnamed portal. */
  upstreamName: string;
  statement: PreparedStatement;
  fields: readonly ResultField[] | null;
  /** The values Bind gave the statement's parameters: an Execute is decided on them too (enforce/setting-guard.ts). */
  params?: readonly (Buffer | null)[];
  /** The result formats Bind asked for (none: all text; one: all that one; else one per column). */
  resultFormats?: readonly number[];
}

/** Statements whose rows are flowing back, with what masking and audit need. */
export interface ResultContext {
  statements: DecidedStatement[];
  masks: MaskRule[];
  /** Content detection the statements' decisions ask for (enforce/output-plan.ts). */
  detections: DetectRule[];
  /** Index of the statement whose results are arriving (multi-statement simple queries). */
  index: number;
  plan: OutputPlan | null;
  /** Identifiers the detectors replaced in the current statement's results (for its outcome record). */
  detected: DetectionCounts;
  /** The detector scanning the COPY data now arriving, or null. */
  copyDetector?: Detector | null;
  /** Columns of the result set whose rows are arriving: from its RowDescription (Query), else null. */
  columns: number | null;
  rows: number;
  /** Subjects of the current statement's rows (hidden columns, enforce/subject-columns.ts), created at its first row. */
  subjectRows?: SubjectCollector | null;
  /** COPY ... FROM STDIN statements of this request that have not started copying yet (pg/copy-in.ts). */
  copyFromLeft?: number;
  /**
   * The LOCK statements Gatehouse sent ahead of the client's Query (enforce/lock-prefix.ts) and how many
   * have not completed yet: their CommandCompletes are not the client's, and an error before the last
   * is theirs, not a statement's. Absent: none sent.
   */
  lockPrefix?: { prefix: LockPrefix; left: number };
  /** The check appended after the client's statements (pg/pin-check.ts), when a write fires pinned trigger functions. */
  pinCheck?: PinCheck;
}

/** A Query's pin check: `armed` until its first answer, `holding` its output, `done` once answered. */
export interface PinCheck {
  pins: readonly FunctionPin[];
  state: 'armed' | 'holding' | 'done';
}

/** A new context for statements whose results are about to flow back. */
export function newResultContext(statements: DecidedStatement[], masks: MaskRule[]): ResultContext {
  const detections = statements.flatMap((s) => (s.decision.action === 'mask' ? (s.decision.detections ?? []) : []));
  return { statements, masks, detections, index: 0, plan: null, columns: null, rows: 0, detected: {} };
}

export type Pending =
  | { kind: 'query'; ctx: ResultContext } // simple Query: ends with ReadyForQuery
  | { kind: 'parse'; statement: PreparedStatement; replaced: PreparedStatement | null } // the statement it replaced (the unnamed one), for undo
  | { kind: 'close-statement'; statement: PreparedStatement | null }
  | { kind: 'bind'; portal: Portal | null; previous: Portal | null } // the portal it bound, and the one it replaced (for undo)
  // target null: a cursor DECLAREd by SQL, or (untracked) the unnamed portal Gatehouse did not bind
  // (pg/portal-table.ts describeTarget), which may be described only without columns or refused.
  | { kind: 'describe'; hidden: boolean; target: PreparedStatement | Portal | null; untracked?: boolean }
  | { kind: 'execute'; ctx: ResultContext; portal: Portal | null }
  | { kind: 'close'; portal: Portal | null } // the portal it closed in Gatehouse's view (for undo)
  | { kind: 'sync' } // ends with ReadyForQuery
  // An upstream error Gatehouse provoked, shown as its own denial. droppedUnnamed: the unnamed
  // statement Gatehouse dropped for it (a refused Parse of the unnamed statement), for undo.
  | { kind: 'swap-error'; error: Buffer; droppedUnnamed: PreparedStatement | null }
  // The same for a refused simple Query (ends with ReadyForQuery), which drops the unnamed statement, or
  // a refused FunctionCall (answered the same way; it keeps the unnamed statement: droppedUnnamed null).
  | { kind: 'refused-query'; error: Buffer; shown: boolean; droppedUnnamed: PreparedStatement | null }
  | { kind: 'search-path'; value: string | null; failed: boolean } // Gatehouse's own hidden probe (pg/search-path.ts)
  // Gatehouse's own DO block of LOCKs ahead of an extended-protocol Parse, Bind, Describe or Execute
  // (ctx: the Execute's, else null; sql: the statement's), whose answers (`left` to come) the client
  // never sees (enforce/lock-ahead.ts, pg/lock-statements.ts, pg/lock-answers.ts); parsed: called at the
  // ParseComplete of a prepared block's Parse; lost: when the block finds its prepared statement gone.
  | { kind: 'lock-ahead'; prefix: LockPrefix; ctx: ResultContext | null; sql: string; left: number; parsed?: (() => void) | null; lost?: (() => void) | null };

/**
 * The prepared statement name an entry changes in Gatehouse's view, or null: a Parse or Close, and
 * a refusal that dropped the unnamed statement (restored if the server skips it).
 */
function changedStatementName(p: Pending): string | null {
  switch (p.kind) {
    case 'parse':
      return p.statement.name;
    case 'close-statement':
      return p.statement?.name ?? null;
    case 'swap-error':
    case 'refused-query':
      return p.droppedUnnamed === null ? null : '';
    default:
      return null;
  }
}

/**
 * Whether an entry is the client's own work that can wait on the server for as long as another
 * transaction likes: a Query or an Execute, and a Sync, whose commit of the implicit transaction runs the
 * deferred constraint checks and triggers, which wait for rows as statements do (red-team round 17b,
 * R17b-1: a statement pipelined behind such a Sync was decided long before it ran).
 */
function runsOnServer(p: Pending): boolean {
  return p.kind === 'query' || p.kind === 'execute' || p.kind === 'sync';
}

/**
 * The prepared statement a Describe of it names (not a portal's): PostgreSQL revalidates its cached query
 * there, taking its relations' locks and waiting for a migration's like a Parse (red-team round 18a, R18a-2).
 */
function describedStatement(target: PreparedStatement | Portal | null): PreparedStatement | null {
  return target === null || 'statement' in target ? null : target;
}

/**
 * The prepared statement whose Parse or Bind an entry is, when its SQL may name relations: the server
 * locks them there, and waits behind another transaction's lock like a statement does (a migration's, taken
 * within the lock poll's window: R14-3).
 */
function preparesStatement(p: Pending): PreparedStatement | null {
  const statement = p.kind === 'parse' ? p.statement : p.kind === 'bind' ? (p.portal?.statement ?? null) : p.kind === 'describe' ? describedStatement(p.target) : null;
  return statement === null || statement.namesNoRelation === true ? null : statement;
}

/** A FIFO with O(1) shift (Array.shift is O(n) on long pipelines). */
export class PendingQueue {
  private items: Pending[] = [];
  /** How many entries in the queue change each statement name (statementNameUnsettled). */
  private readonly nameChanges = new Map<string, number>();
  /** How many entries are a client's statement or commit (a Query, an Execute or a Sync): statementsInFlight. */
  private statements = 0;
  /** How many Parse and Bind entries of each prepared statement naming relations are in the queue: otherStatementInFlight. */
  private readonly preparing = new Map<PreparedStatement, number>();
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): Pending | undefined {
    return this.items[this.head];
  }

  push(p: Pending): void {
    this.items.push(p);
    if (runsOnServer(p)) this.statements++;
    const prepared = preparesStatement(p);
    if (prepared !== null) this.preparing.set(prepared, (this.preparing.get(prepared) ?? 0) + 1);
    const name = changedStatementName(p);
    if (name !== null) this.nameChanges.set(name, (this.nameChanges.get(name) ?? 0) + 1);
  }

  /**
   * Whether a client's message is still unanswered upstream (anything but Gatehouse's own
   * search_path probe): what a CancelRequest could stop on the server.
   */
  clientWorkInFlight(): boolean {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.kind !== 'search-path') return true;
    return false;
  }

  shift(): Pending | undefined {
    const p = this.items[this.head];
    if (p === undefined) return undefined;
    this.items[this.head] = undefined as unknown as Pending;
    if (runsOnServer(p)) this.statements--;
    const prepared = preparesStatement(p);
    if (prepared !== null) {
      const left = this.preparing.get(prepared)! - 1;
      if (left === 0) this.preparing.delete(prepared);
      else this.preparing.set(prepared, left);
    }
    const name = changedStatementName(p);
    if (name !== null) {
      const left = this.nameChanges.get(name)! - 1;
      if (left === 0) this.nameChanges.delete(name);
      else this.nameChanges.set(name, left);
    }
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }

  /** The entries up to (not including) the next `sync`: what an error at the head makes the server skip. */
  untilSync(): Pending[] {
    const out: Pending[] = [];
    for (let i = this.head; i < this.items.length && this.items[i]!.kind !== 'sync'; i++) out.push(this.items[i]!);
    return out;
  }

  /** Whether a client's Query, Execute or Sync is still unanswered upstream (pg/statement-order.ts). */
  statementsInFlight(): boolean {
    return this.statements > 0;
  }

  /**
   * Whether a Parse or Bind of a prepared statement other than `own` (naming relations) is still
   * unanswered upstream: it may wait there for a relation lock, and a statement behind it would run after
   * it (pg/statement-order.ts). The statement's own Parse and Bind do not count for its Bind and Execute:
   * they would otherwise wait a round trip each (what the lock of its Parse and Bind covers instead:
   * pg/arrival-locks.ts).
   */
  otherStatementInFlight(own: PreparedStatement | null): boolean {
    for (const statement of this.preparing.keys()) if (statement !== own) return true;
    return false;
  }

  /**
   * Whether a Parse or Close of prepared statement `name` is still unanswered with a Sync queued
   * after it. Gatehouse updates its statement names when such a message goes out; if an earlier
   * message of its batch fails, the server skips it and the change is undone (upstream-relay.ts).
   * A message after that Sync is not skipped with it, so it must see the names as they end up.
   */
  statementNameUnsettled(name: string): boolean {
    if (!this.nameChanges.has(name)) return false;
    // From the newest entry back: only the latest change of the name matters.
    let syncAfter = false;
    for (let i = this.items.length - 1; i >= this.head; i--) {
      const p = this.items[i]!;
      if (p.kind === 'sync') syncAfter = true;
      else if (changedStatementName(p) === name) return syncAfter;
    }
    return false;
  }

  /**
   * After an error in an extended-protocol message, PostgreSQL discards every message until Sync,
   * simple Query messages included (and so Gatehouse's own search_path probe and refusal queries
   * sent in that stretch): drops their entries, up to (not including) the next `sync`. With no
   * `sync` queued, drops everything; the server then also skips what comes next until a Sync.
   */
  dropUntilSync(): Pending[] {
    const dropped: Pending[] = [];
    for (let p = this.peek(); p && p.kind !== 'sync'; p = this.peek()) {
      dropped.push(this.shift()!);
    }
    return dropped;
  }
}

/**
 * Whether an ErrorResponse answering this entry makes PostgreSQL discard messages until Sync. It
 * does for an error in an extended-protocol message (Parse, Bind, Describe, Execute, Close, and
 * Gatehouse's failing Bind); it does not for a simple Query, which ends with its own
 * ReadyForQuery, nor for a Sync (an error at commit is followed by ReadyForQuery).
 */
export function skipsUntilSync(p: Pending): boolean {
  switch (p.kind) {
    case 'parse':
    case 'close-statement':
    case 'bind':
    case 'describe':
    case 'execute':
    case 'close':
    case 'swap-error':
    case 'lock-ahead':
      return true;
    case 'query':
    case 'sync':
    case 'refused-query':
    case 'search-path':
      return false;
    default: {
      const never: never = p;
      throw new Error(`unknown pending entry ${JSON.stringify(never)}`);
    }
  }
}

const COPY = [BE.CopyInResponse, BE.CopyOutResponse, BE.CopyData, BE.CopyDone];

/** The backend messages each entry can be answered with (ErrorResponse: any entry). */
const RESPONSES: Record<Pending['kind'], ReadonlySet<number>> = {
  query: new Set([BE.RowDescription, BE.DataRow, BE.CommandComplete, BE.EmptyQueryResponse, ...COPY, BE.ReadyForQuery]),
  // An Execute never sends RowDescription: the columns come from a Describe.
  execute: new Set([BE.DataRow, BE.CommandComplete, BE.EmptyQueryResponse, BE.PortalSuspended, ...COPY]),
  parse: new Set([BE.ParseComplete]),
  bind: new Set([BE.BindComplete]),
  close: new Set([BE.CloseComplete]),
  'close-statement': new Set([BE.CloseComplete]),
  describe: new Set([BE.ParameterDescription, BE.RowDescription, BE.NoData]),
  sync: new Set([BE.ReadyForQuery]),
  'swap-error': new Set(),
  'refused-query': new Set([BE.ReadyForQuery]),
  'search-path': new Set([BE.RowDescription, BE.DataRow, BE.CommandComplete, BE.ReadyForQuery]),
  'lock-ahead': new Set([BE.ParseComplete, BE.BindComplete, BE.CommandComplete, BE.CloseComplete]),
};

/**
 * Whether `head` (the oldest entry, or none) can produce a backend message of this type.
 * Messages the server may send at any time (NoticeResponse, NotificationResponse,
 * ParameterStatus) are not asked about. Anything else is a desynchronisation: the response
 * would be attributed to a request it does not answer.
 */
export function canProduce(head: Pending | undefined, type: number): boolean {
  if (type === BE.ErrorResponse) return true; // with no entry: a FATAL the server sends on its own
  return head !== undefined && RESPONSES[head.kind].has(type);
}

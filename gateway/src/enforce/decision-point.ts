// The one decision point: SQL text + who + where → parsed facts → policy input → Decision, audited.
// Both the simple and the extended protocol call decideQuery(); nothing else evaluates policy.

import { randomUUID } from 'node:crypto';
import { redactStatementText } from '../audit/redact.ts';
import { sealedParameters, type Sealer } from '../audit/seal.ts';
import type { SessionRecorder } from '../audit/session-recording.ts';
import type { AuditSink } from '../audit/types.ts';
import { AUDIT_RECORD_VERSION } from '../audit/types.ts';
import { GatehouseError } from '../errors.ts';
import { buildPolicyInput } from '../policy/input.ts';
import type { Decision, EngineVerdict, Identity, MaskRule, PolicyEngine, PolicyInput, SessionInfo } from '../policy/types.ts';
import { EVAL_BUDGET_POLICY_ID, EVAL_COOLDOWN_POLICY_ID, inlineEvaluator, type BudgetedVerdict, type PolicyEvaluator } from '../policy/evaluate.ts';
import { analyzeQuery } from '../sql/parser.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { DecisionCache, type DecisionCacheKey } from './decision-cache.ts';
import { settingRefusal, type BoundParameters } from './setting-guard.ts';
import { isParseTime, type ApprovalGate } from './approval-gate.ts';
import { holdForApproval } from './approval-hold.ts';
import { rewriteForMasksCached } from './mask-rewrite-cache.ts';
import { detectionScopeRefusal } from './detection-scope.ts';
import type { AppliedMask } from './mask-applied.ts';
import { reservedObjectUse } from './reserved-names.ts';
import { lockedViewsNamed, viewLockedReason, VIEW_LOCKED_POLICY_ID } from './view-locks.ts';
import { lockedRelationsNamed, relationLockedReason, RELATION_LOCKED_POLICY_ID } from './table-locks.ts';
import { catalogFacts } from './catalog-facts.ts';
import { lockPrefixFor, pastLocksRefusal, relationsPastLocks, type LockPrefix } from './lock-prefix.ts';
import { existenceRefusal, probeInput, probeTables, readProbe, writesMaskedTable, type ReadProbe } from './write-probe.ts';
import { planSubjects, type Disclosures, type PhiTables, type SubjectPlan } from './subject-columns.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import { changedWhileHeld, freshCatalogFor, type FreshRelations } from './fresh-catalog.ts';
import { alreadyMasked, horizonIdentity, horizonOf, triggerReviewRefusal, unvouchedTriggerFunctions, type TriggerReview } from './trigger-review.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import { recordTime } from '../audit/record-time.ts';

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/** Supplies the engine active right now (it can change between statements when policies are reloaded). */
export interface EngineSource {
  current(): PolicyEngine;
}

export interface DecisionContext {
  identity: Identity;
  session: SessionInfo;
  searchPath: string[];
  engines: EngineSource;
  audit: AuditSink;
  evalTimeoutMs: number;
  /** Where evaluations run (policy/eval-pool.ts: worker threads with a hard deadline); default in-process. */
  evaluator?: PolicyEvaluator;
  /** Holds statements decided `approve` until answered (approvals/); without it they are refused. */
  approvals?: ApprovalGate;
  /** Verdicts already reached, shared by all sessions, reused for a deterministic engine (enforce/decision-cache.ts). */
  cache: DecisionCache;
  /** The database's functions, operators and types, to refuse user routines under a mask (null until loaded: fail closed). */
  routines: { current(): RoutineCatalog | null };
  /**
   * The database's relations and columns, to rewrite masked tables (null until loaded: fail closed);
   * checked against the server before a write under a mask (enforce/fresh-catalog.ts).
   */
  relations: FreshRelations & { refreshSoon(): void };
  /**
   * The pid of the upstream backend the session holds (its own connection, or the pooled one it
   * checked out), or null: locks it holds itself never refuse its statements (enforce/table-locks.ts).
   */
  upstreamPid?: number | null;
  /**
   * After a schema change through Gatehouse: the wait for the snapshots to be read again (pg/catalog.ts
   * afterChange), or null when none is pending (the normal case). Statements that name a user
   * relation or a routine not known to be built in wait for it; others are decided at once.
   */
  catalogChange?: () => Promise<CatalogChangeWait> | null;
  /** With audit.breakglass_key: seals each statement as sent, with its parameters, into its record. */
  seal?: Sealer;
  /** With audit.recordings_dir: the session's recording, told each statement decided (literals as $n). */
  recorder?: Pick<SessionRecorder, 'statement'>;
  /** With audit.phi_tables: the PHI tables, their subject columns and the subject key (enforce/subject-columns.ts). */
  disclosures?: Disclosures;
}

/** How a wait for the catalog after a schema change ended (pg/catalog-snapshot.ts ChangeWait). */
export type CatalogChangeWait = 'fresh' | 'failed' | 'timeout';

/** The policy id of a refusal because the catalog could not be read again after a schema change. */
export const CATALOG_STALE_POLICY_ID = 'gatehouse.catalog_after_change';

interface Evaluated {
  text: string;
  parsed: ParsedStatement;
  input: PolicyInput | null;
  verdict: EngineVerdict;
  micros: number;
  transient: boolean;
  probe?: ReadProbe;
  triggerReview?: TriggerReview;
}

/** One statement of a query string with its decision. */
export interface DecidedStatement {
  text: string;
  parsed: ParsedStatement | null;
  input: PolicyInput | null;
  decision: Decision;
  /** The statement as forwarded when masks rewrote it (enforce/mask-rewrite.ts), else null. */
  forwarded?: string | null;
  /**
   * For a `mask` decision that is forwarded: the masks the statement applies (enforce/mask-applied.ts),
   * empty when it reads no masked column. Absent: not known (the statement was not forwarded).
   */
  applied?: AppliedMask[];
  /**
   * The statement writes, or reaches through a foreign key or its action, a table with columns masked
   * for the identity (or one it may not read), which PostgreSQL touches raw (a write's target is never
   * rewritten, enforce/write-target.ts), whatever the decision: the detail, context and internal query
   * of its errors and notices ("Failing row contains (...)", "Key (c)=(...) conflicts with existing key
   * (c)=(...)"), and routine-raised messages, may quote stored values, so they are withheld until its
   * transaction ends (enforce/write-probe.ts, pg/upstream-relay.ts).
   */
  writesMaskedTable?: boolean;
  /** For a write: how the identity reads the tables it touches without reading them (enforce/write-probe.ts). */
  probe?: ReadProbe;
  /** For a write that can fire a trigger function nobody vouches for: whether the identity is under a mask (enforce/trigger-review.ts). */
  triggerReview?: TriggerReview;
  /** For a forwarded statement that reads or writes a PHI table: how its rows' subjects are recorded (enforce/subject-columns.ts). */
  subjects?: SubjectPlan | null;
}

/** The decision for a whole query string (one or several statements). */
export type QueryDecision =
  /**
   * `forwardText`: the query string to send upstream in place of the client's (masks at the source), or
   * null to send it as it is. `lockPrefix`: for a simple Query, the LOCK statements to send ahead of it
   * (enforce/lock-prefix.ts), or null.
   */
  | { kind: 'forward'; statements: DecidedStatement[]; masks: MaskRule[]; forwardText: string | null; lockPrefix: LockPrefix | null }
  | { kind: 'refuse'; statements: DecidedStatement[]; error: GatehouseError };

/**
 * Object.assign, not `{ ...verdict, id, ... }`: the same object (same keys, same order), but on
 * Node 20's V8 a spread followed by further properties takes a slow path, about 10 µs per
 * statement (each clone gets a map of its own, and every property added after it misses the
 * transition cache); Object.assign takes well under 1 µs.
 */
function stamp(verdict: EngineVerdict, engine: PolicyEngine | null, micros: number): Decision {
  return Object.assign({}, verdict, {
    id: randomUUID(),
    engine: engine?.kind ?? 'rego',
    revision: engine?.revision ?? 'none',
    evalMicros: micros,
  });
}

/** Why a decision refuses the statement, as the error the client sees; null when it may run. */
export function refusalFor(decision: Decision): GatehouseError | null {
  switch (decision.action) {
    case 'allow':
      return null;
    case 'mask':
      return null; // applied at the source (applyMasks), or refused there
    case 'deny':
      if (decision.policies[0] === EVAL_BUDGET_POLICY_ID || decision.policies[0] === EVAL_COOLDOWN_POLICY_ID) {
        const what = decision.policies[0] === EVAL_BUDGET_POLICY_ID ? 'stopped the policy evaluation for this statement' : 'refused this statement without evaluating it';
        return new GatehouseError('POLICY_EVAL_BUDGET', `Gatehouse ${what}, so it was not run: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}; revision ${decision.revision}`,
          hint: 'The active policy has a rule that is too slow (or loops) for this statement; retrying will not help. Tell the policy owners: the policy revision and decision id are in the detail.',
        });
      }
      if (decision.policies[0] === CATALOG_STALE_POLICY_ID || decision.policies[0] === VIEW_LOCKED_POLICY_ID) {
        return new GatehouseError('CATALOG_STALE', `Gatehouse refused this statement: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}`,
          hint:
            decision.policies[0] === VIEW_LOCKED_POLICY_ID
              ? 'Try again when the transaction changing the view has ended (pg_locks shows which one holds it).'
              : 'Try again in a moment; if it persists, tell the operator (the Gatehouse log says why the catalog could not be read).',
        });
      }
      if (decision.policies[0] === RELATION_LOCKED_POLICY_ID) {
        return new GatehouseError('RELATION_LOCKED', `Gatehouse refused this statement: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}`,
          hint: 'Retry after the transaction changing it commits or rolls back (pg_locks shows which backend holds it).',
        });
      }
      return new GatehouseError('POLICY_DENIED', `Gatehouse policy denied this statement: ${decision.reason}`, {
        decisionId: decision.id,
        detail: `decision ${decision.id}; policies: ${decision.policies.join(', ') || '(none)'}; revision ${decision.revision}`,
        hint: 'Ask a security engineer to change the policy through a pull request if this access is needed.',
      });
    case 'approve':
      return new GatehouseError('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement: ${decision.reason}`, {
        decisionId: decision.id,
        detail: `decision ${decision.id}; policies: ${decision.policies.join(', ')}; revision ${decision.revision}`,
        hint: 'Approvals are not set up where this statement was decided, so it was not run (docs/approvals.md).',
      });
    default: {
      const never: never = decision.action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}

/**
 * Gatehouse prepares protocol-level statements upstream under names with this prefix. A client can
 * see them in pg_prepared_statements; SQL-level EXECUTE or PREPARE of such a name would run (or
 * shadow) a statement outside its decision, so it is refused before any policy is asked.
 */
export const RESERVED_STATEMENT_PREFIX = 'gatehouse_';

/** Why a statement uses a reserved name (refused before any policy is asked), or null. */
export function reservedNameUse(parsed: ParsedStatement): string | null {
  const name = parsed.facts.preparedName;
  if (name === null || !name.startsWith(RESERVED_STATEMENT_PREFIX)) return null;
  const kind = parsed.facts.kind === 'explain' ? parsed.facts.innerKind : parsed.facts.kind;
  if (kind !== 'execute' && kind !== 'prepare') return null;
  return `prepared statement names starting with "${RESERVED_STATEMENT_PREFIX}" are reserved for Gatehouse`;
}

function evaluateOne(
  ctx: DecisionContext,
  engine: PolicyEngine,
  text: string,
  protocol: 'simple' | 'extended',
  parsed: ParsedStatement,
  parameters: BoundParameters,
): Evaluated | Promise<Evaluated> {
  const reserved = reservedNameUse(parsed) ?? reservedObjectUse(parsed);
  if (reserved) {
    return { text, parsed, input: null, verdict: { action: 'deny', reason: reserved, policies: [], masks: [] }, micros: 0, transient: false };
  }
  const relations = ctx.relations.current();
  if (relations === null && [...parsed.facts.tablesRead, ...parsed.facts.tablesWritten].some((t) => !SYSTEM_SCHEMAS.has(t.schema))) {
    // Without the catalog, the tables read through views cannot be told to the policy: fail closed.
    ctx.relations.refreshSoon();
    const reason = "Gatehouse has not read the database's catalog yet, so it cannot tell which tables this statement reads through views; try again in a moment";
    return { text, parsed, input: null, verdict: { action: 'deny', reason, policies: [], masks: [] }, micros: 0, transient: true };
  }
  const locked = relations === null ? [] : lockedViewsNamed(parsed.facts, relations);
  if (locked.length > 0) {
    ctx.relations.refreshSoon(); // the lock may be gone by the client's next try
    return { text, parsed, input: null, verdict: { action: 'deny', reason: viewLockedReason(locked), policies: [VIEW_LOCKED_POLICY_ID], masks: [] }, micros: 0, transient: true };
  }
  const changing = relations === null ? [] : lockedRelationsNamed(parsed.facts, relations, ctx.upstreamPid ?? null);
  if (changing.length > 0) {
    ctx.relations.refreshSoon(); // the lock may be gone by the client's next try
    return { text, parsed, input: null, verdict: { action: 'deny', reason: relationLockedReason(changing), policies: [RELATION_LOCKED_POLICY_ID], masks: [] }, micros: 0, transient: true };
  }
  try {
    const catalog = catalogFacts(parsed.facts, relations, ctx.routines.current());
    const input = buildPolicyInput({ identity: ctx.identity, session: ctx.session, text, protocol, facts: parsed.facts, parameters, catalog });
    const key = DecisionCache.keyFor(engine, input);
    const main = verdictOf(ctx, engine, input, key);
    return main instanceof Promise
      ? main.then(
          (b) => withProbe(ctx, engine, relations, text, parsed, input, key, b),
          (e: unknown) => engineFailed(text, parsed, e),
        )
      : withProbe(ctx, engine, relations, text, parsed, input, key, main);
  } catch (e) {
    return engineFailed(text, parsed, e);
  }
}

// The steps after a verdict are module functions, not closures made per statement.

/** A write is asked about once more: how the identity reads the tables it touches unread (enforce/write-probe.ts). */
function withProbe(
  ctx: DecisionContext,
  engine: PolicyEngine,
  relations: RelationCatalog | null,
  text: string,
  parsed: ParsedStatement,
  input: PolicyInput,
  key: DecisionCacheKey,
  b: BudgetedVerdict,
): Evaluated | Promise<Evaluated> {
  const tables = b.verdict.action === 'deny' ? [] : probeTables(input, relations);
  if (tables.length === 0) return withTriggerReview(ctx, engine, relations, key, evaluated(text, parsed, input, b));
  // The probe's input is the statement's plus `tables`, so the statement's key and `tables` key its verdict.
  const answer = verdictOf(ctx, engine, probeInput(input, tables), key === null ? null : `${key}\u0001probe\u0000${tables.join('\u0000')}`);
  const probed = (a: BudgetedVerdict | null): Evaluated | Promise<Evaluated> => withTriggerReview(ctx, engine, relations, key, evaluated(text, parsed, input, b, readProbe(tables, a)));
  return answer instanceof Promise ? answer.then(probed, () => probed(null)) : probed(answer);
}

function evaluated(text: string, parsed: ParsedStatement, input: PolicyInput, { verdict, micros, transient }: BudgetedVerdict, probe?: ReadProbe): Evaluated {
  return { text, parsed, input, verdict, micros, transient, ...(probe ? { probe } : {}) };
}

/**
 * A write that can fire a trigger function nobody vouches for: is the identity under a mask? Its own
 * verdict or read probe may say so; otherwise the policy is asked how it reads every relation (the
 * horizon probe, cached like any verdict): a trigger's function may read any (enforce/trigger-review.ts).
 */
function withTriggerReview(ctx: DecisionContext, engine: PolicyEngine, relations: RelationCatalog | null, key: DecisionCacheKey, e: Evaluated): Evaluated | Promise<Evaluated> {
  if (e.input === null || e.verdict.action === 'deny') return e;
  const unvouched = unvouchedTriggerFunctions(e.input, e.verdict, ctx.routines.current());
  if (unvouched.length === 0) return e;
  if (relations === null || alreadyMasked(e.verdict, e.probe)) return { ...e, triggerReview: { unvouched, identity: 'masked' } };
  const horizon = horizonOf(relations);
  const answer = verdictOf(ctx, engine, probeInput(e.input, horizon.tables), key === null ? null : `${key}\u0001horizon\u0000${horizon.digest}`);
  const reviewed = (a: BudgetedVerdict | null): Evaluated => ({ ...e, triggerReview: { unvouched, identity: horizonIdentity(readProbe(horizon.tables, a), a?.verdict.detections) } });
  return answer instanceof Promise ? answer.then(reviewed, () => reviewed(null)) : reviewed(answer);
}

/**
 * The engine's verdict for an input, reused when an input that agrees on everything the policy reads
 * (the same `key`, DecisionCache.keyFor) was decided before; the input is built for every statement
 * (the audit record carries it).
 */
function verdictOf(ctx: DecisionContext, engine: PolicyEngine, input: PolicyInput, key: DecisionCacheKey): BudgetedVerdict | Promise<BudgetedVerdict> {
  const cached = key === null ? null : ctx.cache.get(engine.revision, key);
  if (cached !== null) return { verdict: cached, micros: 0, transient: false };
  const budgeted = (ctx.evaluator ?? inlineEvaluator).evaluate(engine, input, ctx.evalTimeoutMs);
  const remember = (b: BudgetedVerdict): BudgetedVerdict => {
    if (key !== null && !b.transient) ctx.cache.set(engine.revision, key, b.verdict);
    return b;
  };
  return budgeted instanceof Promise ? budgeted.then(remember) : remember(budgeted);
}

function engineFailed(text: string, parsed: ParsedStatement, e: unknown): Evaluated {
  const reason = `policy engine error: ${e instanceof Error ? e.message : String(e)}`;
  return { text, parsed, input: null, verdict: { action: 'deny', reason, policies: [], masks: [] }, micros: 0, transient: true };
}

/**
 * Evaluates every statement of a query string, or reuses verdicts already reached (DecisionCache):
 * those come back at once, so a cached decision never waits for another turn of the event loop.
 */
function evaluateAll(
  ctx: DecisionContext,
  protocol: 'simple' | 'extended',
  parsed: ParsedStatement[],
  parameters: BoundParameters,
): DecidedStatement[] | Promise<DecidedStatement[]> {
  const waits = parsed.some((p) => needsCatalog(p)) ? (ctx.catalogChange?.() ?? null) : null;
  if (waits !== null) {
    // A schema change through Gatehouse is being read: decide with the catalog that knows it.
    return waits.then(
      (result) => (result === 'fresh' ? evaluateAll({ ...ctx, catalogChange: () => null }, protocol, parsed, parameters) : catalogStale(ctx, parsed, result)),
      () => catalogStale(ctx, parsed, 'failed'),
    );
  }
  const engine = ctx.engines.current();
  const items = parsed.map((p) => evaluateOne(ctx, engine, p.text, protocol, p, parameters));
  return items.some((i) => i instanceof Promise) ? Promise.all(items).then((all) => decidedOf(all, engine)) : decidedOf(items as Evaluated[], engine);
}

function decidedOf(items: Evaluated[], engine: PolicyEngine): DecidedStatement[] {
  return items.map((i) => ({
    text: i.text,
    parsed: i.parsed,
    input: i.input,
    decision: stamp(i.verdict, engine, i.micros),
    ...(i.probe ? { probe: i.probe } : {}),
    ...(i.triggerReview ? { triggerReview: i.triggerReview } : {}),
  }));
}

/**
 * Whether deciding the statement may read the catalog snapshots: it names a relation outside the
 * system schemas, calls a function, or holds expressions at all (a query, a write, EXPLAIN, PREPARE,
 * a cursor, COPY). Any call or expression: the snapshot that would say a name is built in is the one
 * being read again, and the change may have added an overload that wins for the call's argument types
 * (`public.upper(integer)` for `upper(5)`), or an operator, type or cast that an expression uses
 * without naming it (a column's type, an implicit cast), which the statement facts cannot list
 * (red-team round 12, R12-3).
 */
function needsCatalog(p: ParsedStatement): boolean {
  if ([...p.facts.tablesRead, ...p.facts.tablesWritten].some((t) => !SYSTEM_SCHEMAS.has(t.schema))) return true;
  return p.facts.functions.length > 0 || EXPRESSION_KINDS.has(p.facts.kind);
}

/** Statement kinds that can hold expressions (operators, casts): they wait for a pending catalog read. */
const EXPRESSION_KINDS: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'merge', 'copy', 'explain', 'prepare', 'execute', 'cursor', 'do', 'call']);

/**
 * Every statement of the query refused: the catalog could not be read again after a schema change, or
 * before a write under a mask (`write`: enforce/fresh-catalog.ts).
 */
function catalogStale(ctx: DecisionContext, parsed: ParsedStatement[], result: Exclude<CatalogChangeWait, 'fresh'>, why: 'change' | 'write' = 'change'): DecidedStatement[] {
  const engine = currentEngineOrNull(ctx);
  const how = result === 'timeout' ? 'was not read again in time' : 'could not be read again';
  const reason =
    why === 'change'
      ? `the database's catalog changed (a schema change made through Gatehouse) and ${how}, so Gatehouse cannot tell what this statement touches`
      : `this write touches a table with columns masked for you, and the database's catalog ${how} before it, so Gatehouse cannot tell which constraints it would meet`;
  return parsed.map((p) => ({ text: p.text, parsed: p, input: null, decision: stamp({ action: 'deny', reason, policies: [CATALOG_STALE_POLICY_ID], masks: [] }, engine, 0) }));
}

function syntaxDenied(text: string, error: string, engine: PolicyEngine | null): DecidedStatement {
  const decision = stamp({ action: 'deny', reason: `statement could not be parsed: ${error}`, policies: [], masks: [] }, engine, 0);
  return { text, parsed: null, input: null, decision };
}

/** The engine for stamping a decision made without it (its revision is still recorded). */
function currentEngineOrNull(ctx: DecisionContext): PolicyEngine | null {
  try {
    return ctx.engines.current();
  } catch {
    return null;
  }
}

/**
 * Refuses (22023, before any policy is asked) a statement that would change standard_conforming_strings
 * or client_encoding so that PostgreSQL reads SQL differently from Gatehouse (enforce/setting-guard.ts).
 */
function unsafeSettingDenied(ctx: DecisionContext, statements: readonly ParsedStatement[], params: BoundParameters): QueryDecision | null {
  for (const parsed of statements) {
    const refusal = settingRefusal(parsed.facts.settingChanges, params);
    if (refusal === null) continue;
    const decision = stamp({ action: 'deny', reason: refusal.reason, policies: [], masks: [] }, currentEngineOrNull(ctx), 0);
    const s: DecidedStatement = { text: parsed.text, parsed, input: null, decision };
    auditStatements(ctx, [s], params);
    return { kind: 'refuse', statements: [s], error: refusal.error(decision.id) };
  }
  return null;
}

/** Writes the "statement" audit record for each decided statement; throws AUDIT_WRITE_FAILED if it cannot. */
export function auditStatements(ctx: DecisionContext, statements: DecidedStatement[], parameters: BoundParameters = 'unbound'): void {
  try {
    for (const s of statements) {
      const d = s.decision;
      // What was applied, not what could have been: a mask decision whose statement reads no masked
      // column is recorded as `allow` with no masks (its reason and policies stay the policy's).
      const applied = d.action === 'mask' ? s.applied : undefined;
      // Literals out, by the shape the parse already found: the sink's redaction (audit/redact.ts)
      // and the recording then reuse this instead of normalizing the text again.
      const redacted = redactStatementText(s.text, s.parsed !== null, s.parsed?.shape);
      ctx.audit.write({
        v: AUDIT_RECORD_VERSION,
        type: 'statement',
        time: recordTime(),
        decision_id: d.id,
        session_id: ctx.session.id,
        identity: s.input?.identity ?? identityOf(ctx.identity),
        client_address: ctx.session.clientAddress,
        application_name: ctx.session.applicationName,
        statement: s.text,
        ...(s.forwarded ? { forwarded: s.forwarded } : {}),
        ...(ctx.seal ? { sealed: sealStatement(ctx.seal, s, parameters) } : {}),
        fingerprint: s.parsed?.facts.fingerprint ?? '',
        input: s.input,
        decision: applied?.length === 0 ? 'allow' : d.action,
        reason: d.reason,
        policies: d.policies,
        masks: applied ?? d.masks.map(({ table, column, strategy }) => ({ table, column, strategy })),
        engine: d.engine,
        revision: d.revision,
      });
      ctx.recorder?.statement({ decision_id: d.id, statement: redacted, decision: applied?.length === 0 ? 'allow' : d.action, reason: d.reason });
    }
  } catch (e) {
    if (e instanceof GatehouseError) throw e; // the sink's own refusal (disk full, outage) says why
    throw new GatehouseError('AUDIT_WRITE_FAILED', 'Gatehouse could not write the audit record for this statement, so it was not run', {
      cause: e,
      hint: 'The audit log is unavailable; tell the Gatehouse operator (disk full or audit file not writable).',
    });
  }
}

/** The break-glass copy of a statement as sent: its text, the forwarded text, its parameters. */
export function sealStatement(seal: Sealer, s: DecidedStatement, parameters: BoundParameters): string {
  return seal({
    decision_id: s.decision.id,
    statement: s.text,
    ...(s.forwarded ? { forwarded: s.forwarded } : {}),
    ...(parameters === 'unbound' ? {} : { parameters: sealedParameters(parameters) }),
  });
}

/** The identity as audit records carry it. */
export function identityOf(identity: Identity): PolicyInput['identity'] {
  return { subject: identity.subject, issuer: identity.issuer, groups: identity.groups, roles: identity.roles, name: identity.name };
}

/**
 * Decides a whole query string. Every statement is decided on its own; if any is refused the whole
 * string is refused before anything reaches the database (a multi-statement string runs as one
 * implicit transaction in PostgreSQL, so refusing all of it keeps the all-or-nothing outcome).
 * Audit records are written here, before the caller forwards anything (a Parse-time check passes
 * auditForwarded: false, because the statement is audited when it is executed).
 */
export function decideQuery(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: {
    auditForwarded?: boolean;
    /**
     * Values bound to $n parameters (extended protocol Execute), or 'unbound' at Parse. Omitted:
     * the statement has no bound values, and a parameter's value counts as unknown.
     */
    parameters?: BoundParameters;
    /**
     * The statement will not run whatever the verdict (PostgreSQL discards it: an earlier message
     * of its batch failed); it is decided only to be audited, so an `approve` opens no request.
     */
    discarded?: boolean;
  } = {},
): QueryDecision | Promise<QueryDecision> {
  const outcome = analyzeQuery(text, { searchPath: ctx.searchPath });
  let statements: DecidedStatement[];
  let error: GatehouseError | null = null;
  if (!outcome.ok) {
    const s = syntaxDenied(text, outcome.error, currentEngineOrNull(ctx));
    statements = [s];
    error = new GatehouseError('SYNTAX_ERROR', `Gatehouse could not parse this statement, so it was not run: ${outcome.error}`, {
      decisionId: s.decision.id,
      hint: 'Check the SQL syntax; Gatehouse uses the PostgreSQL parser and forwards only statements it can analyse.',
    });
  } else {
    if (protocol === 'extended' && outcome.statements.length > 1) {
      const engine = ctx.engines.current();
      const s = syntaxDenied(text, 'cannot insert multiple commands into a prepared statement', engine);
      auditStatements(ctx, [s]);
      return {
        kind: 'refuse',
        statements: [s],
        error: new GatehouseError('SYNTAX_ERROR', 'cannot insert multiple commands into a prepared statement', { decisionId: s.decision.id }),
      };
    }
    const unsafe = unsafeSettingDenied(ctx, outcome.statements, options.parameters ?? []);
    if (unsafe) return unsafe;
    const decidedWith = ctx.relations.current();
    const evaluated = evaluateAll(ctx, protocol, outcome.statements, options.parameters ?? 'unbound');
    // Masks and audit use the search path and catalogs of the moment the statement was decided.
    return evaluated instanceof Promise
      ? evaluated.then((s) => checkFresh(ctx, text, protocol, options, outcome.statements, decidedWith, s))
      : checkFresh(ctx, text, protocol, options, outcome.statements, decidedWith, evaluated);
  }
  return concludeDecision(ctx, text, protocol, statements, error, options);
}

/**
 * A write under a mask is settled against the constraints the server has now (enforce/fresh-catalog.ts):
 * decided again when the snapshot was behind, refused when it could not be checked. Others at once.
 */
function checkFresh(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: { auditForwarded?: boolean; parameters?: BoundParameters; discarded?: boolean },
  parsed: ParsedStatement[],
  decidedWith: RelationCatalog | null,
  s: DecidedStatement[],
): QueryDecision | Promise<QueryDecision> {
  const fresh = freshCatalogFor(ctx.relations, s, decidedWith);
  if (fresh === null) return settle(ctx, text, protocol, options, s, decidedWith);
  return fresh.then((r) => {
    if (r === 'same') return settle(ctx, text, protocol, options, s, decidedWith);
    if (r !== 'changed') return settle(ctx, text, protocol, options, catalogStale(ctx, parsed, r, 'write'), decidedWith);
    // Decided again with the snapshot just read (once: settled without another check).
    const now = ctx.relations.current();
    const again = evaluateAll(ctx, protocol, parsed, options.parameters ?? 'unbound');
    return again instanceof Promise ? again.then((a) => settle(ctx, text, protocol, options, a, now)) : settle(ctx, text, protocol, options, again, now);
  });
}

/** The verdicts reached: existence oracles refused, approvals waited for, then the decision concluded. */
function settle(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: { auditForwarded?: boolean; parameters?: BoundParameters; discarded?: boolean },
  s: DecidedStatement[],
  decidedWith: RelationCatalog | null,
): QueryDecision | Promise<QueryDecision> {
  // An existence oracle is refused before anyone is asked to approve it (a COPY FROM decided
  // `approve` is refused by the approval hold for its own reason: its rows come after the statement).
  const checked = s.filter((x) => !(x.decision.action === 'approve' && x.input?.statement.copy?.direction === 'from'));
  const oracle = existenceRefusal(checked, ctx.searchPath, ctx.relations.current()) ?? triggerReviewRefusal(checked);
  if (oracle !== null) return concludeDecision(ctx, text, protocol, s, oracle, options);
  const held = ctx.approvals === undefined || options.discarded === true ? null : holdForApproval(ctx.approvals, text, s, protocol, options.parameters);
  if (held === null) return concludeDecision(ctx, text, protocol, s, null, options);
  return held.then((h) => {
    // Approved after a wait (at Parse nothing waits): a write under a mask is checked again against the server's schema (R17b-2).
    const changed = h.error === null && !isParseTime(options.parameters) ? changedWhileHeld(ctx.relations, h.statements, decidedWith) : null;
    if (changed === null) return concludeDecision(ctx, text, protocol, h.statements, h.error, options);
    return changed.then((error) => concludeDecision(ctx, text, protocol, h.statements, error, options));
  });
}

/** The parsed statements of a string decided whole, or none when one was not parsed (refused before in practice). */
function parsedOf(statements: readonly DecidedStatement[]): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  for (const s of statements) {
    if (s.parsed === null) return [];
    out.push(s.parsed);
  }
  return out;
}

/** After the verdicts: the first refusal, masks at the source, then the audit records. */
function concludeDecision(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  statements: DecidedStatement[],
  error: GatehouseError | null,
  options: { auditForwarded?: boolean; parameters?: BoundParameters },
): QueryDecision {
  for (const s of statements) {
    if (error) break;
    error = refusalFor(s.decision);
  }
  const relations = ctx.relations.current();
  // What the lock prefix looks at: a simple Query's parsed statements (none for the extended protocol).
  const parsed = protocol === 'simple' ? parsedOf(statements) : null;
  if (!error && parsed !== null) {
    // Statements the lock prefix could not cover (red-team round 16, R16-1/R16-2): refused, not run unlocked.
    const past = relationsPastLocks(parsed, relations);
    if (past.length > 0) error = pastLocksRefusal(past, statements[0]?.decision.id);
  }
  for (const s of statements) if (writesMaskedTable(s, relations)) s.writesMaskedTable = true;
  let forwardText: string | null = null;
  if (!error) {
    const applied = applyMasks(ctx, text, statements);
    if (applied instanceof GatehouseError) error = applied;
    else forwardText = applied;
  }
  if (!error && ctx.disclosures !== undefined && ctx.disclosures.phi.size > 0) forwardText = addSubjectColumns(ctx, ctx.disclosures.phi, text, forwardText, statements);
  if (error || options.auditForwarded !== false) auditStatements(ctx, statements, options.parameters);
  if (error) return { kind: 'refuse', statements, error };
  const masks = statements.flatMap((s) => (s.decision.action === 'mask' ? s.decision.masks : []));
  // The relations the lock check looked at, locked from the string's start (red-team round 15, R15-1).
  // Extended protocol: nothing is prepended (25P01 outside a block); a pipelined message gets a DO block (enforce/lock-ahead.ts).
  const lockPrefix = parsed !== null ? lockPrefixFor(parsed, relations) : null;
  return { kind: 'forward', statements, masks, forwardText, lockPrefix };
}

/**
 * Masks at the source: rewrites the masked tables of statements decided `mask` (enforce/
 * mask-rewrite.ts) and notes each statement's forwarded text. Returns the query string to forward
 * (null: the client's, unchanged) or the refusal when the masks cannot be applied.
 */
function applyMasks(ctx: DecisionContext, text: string, statements: DecidedStatement[]): string | null | GatehouseError {
  if (!statements.some((s) => s.decision.action === 'mask')) return null;
  for (const s of statements) {
    const refusal = detectionScopeRefusal(s.parsed, s.decision);
    if (refusal !== null) return new GatehouseError('FEATURE_NOT_SUPPORTED', refusal.message, { decisionId: s.decision.id, hint: refusal.hint });
  }
  const relations = ctx.relations.current();
  const result = rewriteForMasksCached({
    text,
    masks: statements.map((s) => (s.decision.action === 'mask' ? s.decision.masks : [])),
    detections: statements.map((s) => (s.decision.action === 'mask' ? (s.decision.detections ?? []) : [])),
    searchPath: ctx.searchPath,
    relations,
    routines: ctx.routines.current(),
  });
  switch (result.kind) {
    case 'unchanged':
      // No masked table is read: nothing masked.
      for (const s of statements) if (s.decision.action === 'mask') s.applied = [];
      return null;
    case 'rewritten':
      statements.forEach((s, i) => {
        s.forwarded = result.statements[i] ?? null;
        const applied = result.applied[i];
        if (s.decision.action === 'mask' && applied !== undefined) s.applied = applied;
      });
      return result.text;
    case 'refused': {
      if (relations === null || result.refusal.message.includes('does not know')) ctx.relations.refreshSoon();
      const masked = statements.find((s) => s.decision.action === 'mask')!;
      return new GatehouseError(result.refusal.code ?? 'FEATURE_NOT_SUPPORTED', result.refusal.message, {
        decisionId: masked.decision.id,
        detail: `decision ${masked.decision.id}: policy asks to mask ${masked.decision.masks.map((m) => `${m.table}.${m.column} (${m.strategy})`).join(', ')}`,
        hint: result.refusal.hint,
      });
    }
    default: {
      const never: never = result;
      throw new Error(`unknown rewrite result ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Accounting of disclosures: asks PostgreSQL for the subject column of each PHI relation a statement
 * returns or writes rows of, as hidden columns (enforce/subject-columns.ts). Statements that touch
 * no PHI table cost a set lookup per table. Returns the query string to forward.
 */
function addSubjectColumns(ctx: DecisionContext, phi: PhiTables, text: string, forwardText: string | null, statements: DecidedStatement[]): string | null {
  const touched = statements.map((s) => {
    const st = s.input?.statement;
    if (st === undefined) return [];
    const tables = [...st.tables_read, ...st.tables_written].filter((t) => phi.has(t));
    return tables.length === 0 ? tables : [...new Set(tables)];
  });
  if (touched.every((t) => t.length === 0)) return forwardText;
  const result = planSubjects({
    text: forwardText ?? text,
    touched,
    masked: statements.map((s) => new Set(s.decision.action === 'mask' ? s.decision.masks.map((m) => `${m.table}\u0000${m.column}`) : [])),
    phi,
    searchPath: ctx.searchPath,
    relations: ctx.relations.current(),
    routines: ctx.routines.current(),
  });
  statements.forEach((s, i) => {
    s.subjects = result.plans[i] ?? null;
    if (result.statements !== null) s.forwarded = result.statements[i] ?? null;
  });
  return result.text ?? forwardText;
}

/** Throwaway inputs that compile and warm an engine's WASM before the first client statement. */
export function warmUpInputs(): PolicyInput[] {
  const identity: Identity = { subject: 'gatehouse-warm-up', issuer: 'gatehouse', groups: [], roles: [], name: null };
  const session: SessionInfo = { id: 'warm-up', clientAddress: '', applicationName: '', database: 'postgres', user: '', tls: false };
  const inputs: PolicyInput[] = [];
  for (const text of ['SELECT 1', 'SELECT id FROM public.t WHERE id = 1', 'DROP TABLE public.t']) {
    const parsed = analyzeQuery(text);
    if (!parsed.ok) continue;
    for (const p of parsed.statements) inputs.push(buildPolicyInput({ identity, session, text: p.text, protocol: 'simple', facts: p.facts }));
  }
  return inputs;
}

/**
 * Runs a few throwaway evaluations so the engine's WASM is compiled and warm before the first
 * client statement (a cold first evaluation can take longer than the evaluation budget). Only for
 * an engine that passed the budget gate (policy/budget-gate.ts): this runs on the calling thread.
 */
export function warmUpEngine(engine: PolicyEngine): void {
  for (const input of warmUpInputs()) {
    for (let i = 0; i < 3; i++) engine.evaluate(input);
  }
}

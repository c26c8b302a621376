// Asks the policy about each statement of a query string: refusals before any policy is asked, the
// engine's verdict (cached), the read probe of a write and the trigger review, after a pending catalog read.

import { buildPolicyInput } from '../policy/input.ts';
import { InputKeyMemo } from '../policy/input-key-memo.ts';
import type { EngineVerdict, PolicyEngine, PolicyInput } from '../policy/types.ts';
import { inlineEvaluator, type BudgetedVerdict } from '../policy/evaluate.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { DecisionCache, type DecisionCacheKey } from './decision-cache.ts';
import type { BoundParameters } from './setting-guard.ts';
import { reservedNameUse, reservedObjectUse } from './reserved-names.ts';
import { lockedViewsNamed, viewLockedReason, VIEW_LOCKED_POLICY_ID } from './view-locks.ts';
import { lockedRelationsNamed, relationLockedReason, RELATION_LOCKED_POLICY_ID } from './table-locks.ts';
import { catalogFacts } from './catalog-facts.ts';
import { probeInput, probeTables, readProbe, type ReadProbe } from './write-probe.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import { alreadyMasked, horizonIdentity, horizonOf, unpinnedFunctionsOf, unvouchedTriggerFunctions, type Horizon, type TriggerReview } from './trigger-review.ts';
import { identityHorizonBase, identityHorizonInput } from './identity-horizon.ts';
import { CATALOG_STALE_POLICY_ID, type CatalogChangeWait, type DecisionContext } from './decision-context.ts';
import { currentEngineOrNull, stamp, type DecidedStatement } from './decided-statement.ts';
import { mapInSlices, type SliceStop } from '../work-slices.ts';

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

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
    return refusedUnasked(text, parsed, reserved, [], false);
  }
  const relations = ctx.relations.current();
  if (relations === null && namesUserRelation(parsed)) {
    // Without the catalog, the tables read through views cannot be told to the policy: fail closed.
    ctx.relations.refreshSoon();
    const reason = "Gatehouse has not read the database's catalog yet, so it cannot tell which tables this statement reads through views; try again in a moment";
    return refusedUnasked(text, parsed, reason, [], true);
  }
  const locked = relations === null ? [] : lockedViewsNamed(parsed.facts, relations);
  if (locked.length > 0) {
    ctx.relations.refreshSoon(); // the lock may be gone by the client's next try
    return refusedUnasked(text, parsed, viewLockedReason(locked), [VIEW_LOCKED_POLICY_ID], true);
  }
  const changing = relations === null ? [] : lockedRelationsNamed(parsed.facts, relations, ctx.upstreamPid ?? null);
  if (changing.length > 0) {
    ctx.relations.refreshSoon(); // the lock may be gone by the client's next try
    return refusedUnasked(text, parsed, relationLockedReason(changing), [RELATION_LOCKED_POLICY_ID], true);
  }
  try {
    const catalog = catalogFacts(parsed.facts, relations, ctx.routines.current());
    const input = buildPolicyInput({ identity: ctx.identity, session: ctx.session, text, protocol, facts: parsed.facts, parameters, catalog });
    const key = DecisionCache.keyFor(engine, input, keyMemoOf(ctx));
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

/** Each session's last decision-cache key (policy/input-key-memo.ts), by its session info (one object per session, kept by every copy of its context). */
const keyMemos = new WeakMap<DecisionContext['session'], InputKeyMemo>();

function keyMemoOf(ctx: DecisionContext): InputKeyMemo {
  let memo = keyMemos.get(ctx.session);
  if (memo === undefined) keyMemos.set(ctx.session, (memo = new InputKeyMemo()));
  return memo;
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
  const e: Evaluated = { text, parsed, input, verdict, micros, transient };
  if (probe) e.probe = probe;
  return e;
}

/**
 * For every write: is the identity under a mask? Its own verdict or read probe may say so; otherwise the
 * policy is asked how it reads every relation (the horizon probe, cached like any verdict). A trigger's
 * function may read any relation (enforce/trigger-review.ts), and so may a rule or trigger created on
 * the server after the snapshot was read: a write under a mask is checked against the server's catalog
 * before it runs whatever table it writes (enforce/fresh-catalog.ts; red-team round 17a, R17a-3).
 */
function withTriggerReview(ctx: DecisionContext, engine: PolicyEngine, relations: RelationCatalog | null, key: DecisionCacheKey, e: Evaluated): Evaluated | Promise<Evaluated> {
  if (e.input === null || e.verdict.action === 'deny' || e.input.statement.tables_written.length === 0) return e;
  const found = unvouchedTriggerFunctions(e.input, e.verdict, ctx.routines.current(), relations === null ? null : unpinnedFunctionsOf(relations), relations);
  const { unvouched } = found;
  if (relations === null || alreadyMasked(e.verdict, e.probe)) return { ...e, triggerReview: { ...found, identity: 'masked' } };
  const horizon = horizonOf(relations);
  // An unreviewed trigger function: the policy is asked about this statement reading every relation.
  // Otherwise about a plain SELECT of every relation by the identity, cached per identity (identity-horizon.ts).
  const answer =
    unvouched.length > 0
      ? verdictOf(ctx, engine, probeInput(e.input, horizon.tables), key === null ? null : `${key}\u0001horizon\u0000${horizon.digest}`)
      : identityHorizon(ctx, engine, horizon);
  // Not cacheable (an engine that is not deterministic): counted as under a mask, which costs the write
  // one catalog query instead of an evaluation over every relation each time.
  if (answer === null) return { ...e, triggerReview: { ...found, identity: 'masked' } };
  const reviewed = (a: BudgetedVerdict | null): Evaluated => ({ ...e, triggerReview: { ...found, identity: horizonIdentity(readProbe(horizon.tables, a), a?.verdict.detections) } });
  return answer instanceof Promise ? answer.then(reviewed, () => reviewed(null)) : reviewed(answer);
}

/** The policy's answer for the identity's SELECT of every relation of `horizon` (cached per identity, not per statement); null when it cannot be cached. */
function identityHorizon(ctx: DecisionContext, engine: PolicyEngine, horizon: Horizon): BudgetedVerdict | Promise<BudgetedVerdict> | null {
  const base = identityHorizonBase(ctx.identity, ctx.session);
  const key = DecisionCache.keyFor(engine, base);
  return key === null ? null : verdictOf(ctx, engine, identityHorizonInput(base, horizon), `${key}\u0001identity-horizon\u0000${horizon.digest}`);
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

/** A statement denied without a verdict of the policy's (`transient`: not cached, it may pass on a later try). */
function refusedUnasked(text: string, parsed: ParsedStatement, reason: string, policies: string[], transient: boolean): Evaluated {
  return { text, parsed, input: null, verdict: { action: 'deny', reason, policies, masks: [] }, micros: 0, transient };
}

function engineFailed(text: string, parsed: ParsedStatement, e: unknown): Evaluated {
  const reason = `policy engine error: ${e instanceof Error ? e.message : String(e)}`;
  return refusedUnasked(text, parsed, reason, [], true);
}

/**
 * Evaluates every statement of a query string, or reuses verdicts already reached (DecisionCache):
 * those come back at once, so a cached decision never waits for another turn of the event loop.
 * `stop`: the decision's stop signal; set between slices, the Promise rejects with SlicesStopped.
 */
export function evaluateAll(
  ctx: DecisionContext,
  protocol: 'simple' | 'extended',
  parsed: ParsedStatement[],
  parameters: BoundParameters,
  stop?: SliceStop,
): DecidedStatement[] | Promise<DecidedStatement[]> {
  const waits = ctx.catalogChange !== undefined && parsed.some(needsCatalog) ? ctx.catalogChange() : null;
  if (waits !== null) {
    // A schema change through Gatehouse is being read: decide with the catalog that knows it.
    return waits.then(
      (result) => (result === 'fresh' ? evaluateAll({ ...ctx, catalogChange: () => null }, protocol, parsed, parameters, stop) : catalogStale(ctx, parsed, result)),
      () => catalogStale(ctx, parsed, 'failed'),
    );
  }
  const engine = ctx.engines.current();
  if (parsed.length === 1) {
    const only = evaluateOne(ctx, engine, parsed[0]!.text, protocol, parsed[0]!, parameters);
    return only instanceof Promise ? only.then((e) => decidedOf([e], engine)) : decidedOf([only], engine);
  }
  // Many statements: decided in slices that let other sessions in between (work-slices.ts),
  // all with the catalogs of the string's arrival, as when they were decided in one turn.
  const pinned = pinnedCatalogs(ctx);
  const items = mapInSlices(parsed.length, (i) => evaluateOne(pinned, engine, parsed[i]!.text, protocol, parsed[i]!, parameters), undefined, stop);
  return items instanceof Promise ? items.then((all) => settledAll(all, engine)) : settledAll(items, engine);
}

function settledAll(items: Array<Evaluated | Promise<Evaluated>>, engine: PolicyEngine): DecidedStatement[] | Promise<DecidedStatement[]> {
  return items.some((i) => i instanceof Promise) ? Promise.all(items).then((all) => decidedOf(all, engine)) : decidedOf(items as Evaluated[], engine);
}

/** The context with the relation and routine catalogs of this moment, whatever a refresh brings meanwhile. */
function pinnedCatalogs(ctx: DecisionContext): DecisionContext {
  const relations = ctx.relations.current();
  const routines = ctx.routines.current();
  return { ...ctx, relations: { current: () => relations, refreshSoon: () => ctx.relations.refreshSoon() }, routines: { current: () => routines } };
}

function decidedOf(items: Evaluated[], engine: PolicyEngine): DecidedStatement[] {
  const out = new Array<DecidedStatement>(items.length);
  for (let n = 0; n < items.length; n++) {
    const i = items[n]!;
    const d: DecidedStatement = { text: i.text, parsed: i.parsed, input: i.input, decision: stamp(i.verdict, engine, i.micros) };
    if (i.probe) d.probe = i.probe;
    if (i.triggerReview) d.triggerReview = i.triggerReview;
    out[n] = d;
  }
  return out;
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
  return namesUserRelation(p) || p.facts.functions.length > 0 || EXPRESSION_KINDS.has(p.facts.kind);
}

/** Whether the statement names a relation outside the system schemas (no list made: it runs for every statement). */
function namesUserRelation(p: ParsedStatement): boolean {
  for (const t of p.facts.tablesRead) if (!SYSTEM_SCHEMAS.has(t.schema)) return true;
  for (const t of p.facts.tablesWritten) if (!SYSTEM_SCHEMAS.has(t.schema)) return true;
  return false;
}

/** Statement kinds that can hold expressions (operators, casts): they wait for a pending catalog read. */
const EXPRESSION_KINDS: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'merge', 'copy', 'explain', 'prepare', 'execute', 'cursor', 'do', 'call']);

/**
 * Every statement of the query refused: the catalog could not be read again after a schema change, or
 * before a write under a mask (`write`: enforce/fresh-catalog.ts) or a read under one (`read`: enforce/fresh-ancestry.ts).
 */
export function catalogStale(ctx: DecisionContext, parsed: ParsedStatement[], result: Exclude<CatalogChangeWait, 'fresh'>, why: 'change' | 'write' | 'read' = 'change'): DecidedStatement[] {
  const engine = currentEngineOrNull(ctx);
  const how = result === 'timeout' ? 'was not read again in time' : 'could not be read again';
  const reason =
    why === 'change'
      ? `the database's catalog changed (a schema change made through Gatehouse) and ${how}, so Gatehouse cannot tell what this statement touches`
      : why === 'write'
        ? `this write touches a table with columns masked for you, and the database's catalog ${how} before it, so Gatehouse cannot tell which constraints it would meet`
        : `this read names a table with columns masked for you that became a partition since the database's catalog was read, and the catalog ${how}, so Gatehouse cannot tell whether its rows would tell a masked partition key`;
  return parsed.map((p) => ({ text: p.text, parsed: p, input: null, decision: stamp({ action: 'deny', reason, policies: [CATALOG_STALE_POLICY_ID], masks: [] }, engine, 0) }));
}

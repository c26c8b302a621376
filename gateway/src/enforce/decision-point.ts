// The one decision point: SQL text + who + where → parsed facts → policy input → Decision, audited.
// Both the simple and the extended protocol call decideQuery(); nothing else evaluates policy.

import { GatehouseError } from '../errors.ts';
import type { MaskRule, PolicyEngine } from '../policy/types.ts';
import { AnalysisStopped, analyzeQueryInSlices } from '../sql/parser.ts';
import { SlicesStopped, type SliceStop } from '../work-slices.ts';
import type { ParseOutcome, ParsedStatement } from '../sql/facts.ts';
import { settingRefusal, type BoundParameters } from './setting-guard.ts';
import { isParseTime } from './approval-gate.ts';
import { holdForApproval } from './approval-hold.ts';
import { functionPinsOf, pinsBesideCopyIn, pinsNotLast } from './function-pins.ts';
import { lockPrefixFor, pastLocksRefusal, relationsPastLocks } from './lock-prefix.ts';
import { existenceRefusal, writesMaskedTable } from './write-probe.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import { changedWhileHeld, freshCatalogFor } from './fresh-catalog.ts';
import { freshAncestryFor } from './fresh-ancestry.ts';
import { triggerReviewRefusal } from './trigger-review.ts';
import { replaceableRefusal } from './replaceable-functions.ts';
import type { DecisionContext } from './decision-context.ts';
import { currentEngineOrNull, stamp, type DecidedStatement, type QueryDecision } from './decided-statement.ts';
import { refusalFor } from './decision-refusal.ts';
import { catalogStale, evaluateAll } from './statement-evaluation.ts';
import { auditStatements, auditStatementsInSlices } from './statement-audit.ts';
import { addSubjectColumns, applyMasks } from './forward-text.ts';
import { stoppedInAnalysis, stoppedInAudit, stoppedInEvaluation } from './stopped-decision.ts';

// What pg/session.ts imports from here, defined in the modules above.
export type { DecisionContext } from './decision-context.ts';
export type { DecidedStatement, QueryDecision } from './decided-statement.ts';
export { RESERVED_STATEMENT_PREFIX } from './reserved-names.ts';

function syntaxDenied(text: string, error: string, engine: PolicyEngine | null): DecidedStatement {
  const decision = stamp({ action: 'deny', reason: `statement could not be parsed: ${error}`, policies: [], masks: [] }, engine, 0);
  return { text, parsed: null, input: null, decision };
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
    /**
     * The decision's stop signal (work-slices.ts): set when the session abandons it, the work in slices
     * ends at its next boundary and the decision resolves as a refusal, every statement recorded once
     * (enforce/stopped-decision.ts).
     */
    stop?: SliceStop;
    /**
     * The statement's own Parse or Bind already went up in the open transaction (pg/approval-exposure.ts): an
     * approval wait would hold their locks, so an `approve` is refused at once (enforce/approval-hold.ts).
     */
    ownLocksUpstream?: boolean;
  } = {},
): QueryDecision | Promise<QueryDecision> {
  // A long string's facts are extracted in slices, as its statements are decided and audited (work-slices.ts).
  const outcome = analyzeQueryInSlices(text, options.stop ? { searchPath: ctx.searchPath, stop: options.stop } : { searchPath: ctx.searchPath });
  if (!(outcome instanceof Promise)) return decideAnalyzed(ctx, text, protocol, options, outcome);
  return outcome.then(
    (o) => decideAnalyzed(ctx, text, protocol, options, o),
    (e: unknown) => {
      if (e instanceof AnalysisStopped) return stoppedInAnalysis(ctx, e);
      throw e;
    },
  );
}

/** What decideQuery is told beside the text (see there). */
type DecideOptions = { auditForwarded?: boolean; parameters?: BoundParameters; discarded?: boolean; stop?: SliceStop; ownLocksUpstream?: boolean };

/** The rejection of a stopped evaluation becomes the refusal of every statement of `parsed`; any other is passed on. */
function unlessStopped(ctx: DecisionContext, parsed: readonly ParsedStatement[]): (e: unknown) => Promise<QueryDecision> {
  return async (e) => {
    if (e instanceof SlicesStopped) return stoppedInEvaluation(ctx, parsed, e);
    throw e;
  };
}

function decideAnalyzed(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: DecideOptions,
  outcome: ParseOutcome,
): QueryDecision | Promise<QueryDecision> {
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
    const evaluated = evaluateAll(ctx, protocol, outcome.statements, options.parameters ?? 'unbound', options.stop);
    // Masks and audit use the search path and catalogs of the moment the statement was decided.
    return evaluated instanceof Promise
      ? evaluated.then((s) => checkFresh(ctx, text, protocol, options, outcome.statements, decidedWith, s), unlessStopped(ctx, outcome.statements))
      : checkFresh(ctx, text, protocol, options, outcome.statements, decidedWith, evaluated);
  }
  return concludeDecision(ctx, text, protocol, statements, error, options);
}

/**
 * A write under a mask is settled against the constraints the server has now (enforce/fresh-catalog.ts),
 * a read under a mask against the partition parents (enforce/fresh-ancestry.ts): decided again when the
 * snapshot was behind, refused when it could not be checked. Others at once.
 */
function checkFresh(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: DecideOptions,
  parsed: ParsedStatement[],
  decidedWith: RelationCatalog | null,
  s: DecidedStatement[],
): QueryDecision | Promise<QueryDecision> {
  const write = freshCatalogFor(ctx.relations, s, decidedWith);
  // ... and a read under a mask, against the partition parents the server has now (enforce/fresh-ancestry.ts, R21d-2).
  const ancestry = (): ReturnType<typeof freshAncestryFor> => freshAncestryFor(ctx.relations, s, decidedWith);
  const fresh = write === null ? ancestry() : write.then((r) => (r === 'same' ? (ancestry() ?? r) : r));
  if (fresh === null) return settle(ctx, text, protocol, options, s, decidedWith);
  return fresh.then((r) => {
    if (r === 'same') return settle(ctx, text, protocol, options, s, decidedWith);
    if (r !== 'changed') return settle(ctx, text, protocol, options, catalogStale(ctx, parsed, r, write === null ? 'read' : 'write'), decidedWith);
    // Decided again with the snapshot just read (once: settled without another check).
    const now = ctx.relations.current();
    const again = evaluateAll(ctx, protocol, parsed, options.parameters ?? 'unbound', options.stop);
    return again instanceof Promise ? again.then((a) => settle(ctx, text, protocol, options, a, now), unlessStopped(ctx, parsed)) : settle(ctx, text, protocol, options, again, now);
  });
}

/** The verdicts reached: existence oracles refused, approvals waited for, then the decision concluded. */
function settle(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  options: DecideOptions,
  s: DecidedStatement[],
  decidedWith: RelationCatalog | null,
): QueryDecision | Promise<QueryDecision> {
  // An existence oracle is refused before anyone is asked to approve it (a COPY FROM decided
  // `approve` is refused by the approval hold for its own reason: its rows come after the statement).
  const checked = s.some(approvedCopyIn) ? s.filter((x) => !approvedCopyIn(x)) : s;
  // ... and a write under a mask running a function Gatehouse's own role could replace meanwhile (issue 6).
  const oracle = existenceRefusal(checked, ctx.searchPath, ctx.relations.current()) ?? triggerReviewRefusal(checked) ?? replaceableRefusal(checked);
  if (oracle !== null) return concludeDecision(ctx, text, protocol, s, oracle, options);
  const held = ctx.approvals === undefined || options.discarded === true ? null : holdForApproval(ctx.approvals, text, s, protocol, options.parameters, options.ownLocksUpstream === true);
  if (held === null) return concludeDecision(ctx, text, protocol, s, null, options);
  return held.then((h) => {
    // Approved after a wait (at Parse nothing waits): a write under a mask is checked again against the server's schema (R17a-5, R17b-2).
    const changed = h.error === null && !isParseTime(options.parameters) ? changedWhileHeld(ctx.relations, h.statements, decidedWith) : null;
    if (changed === null) return concludeDecision(ctx, text, protocol, h.statements, h.error, options);
    return changed.then((error) => concludeDecision(ctx, text, protocol, h.statements, error, options));
  });
}

/** A COPY FROM decided `approve`: the approval hold refuses it for its own reason. */
function approvedCopyIn(s: DecidedStatement): boolean {
  return s.decision.action === 'approve' && s.input?.statement.copy?.direction === 'from';
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

const NO_MASKS: readonly MaskRule[] = Object.freeze([]);

/** The masks of the statements decided `mask` (a shared empty list for none: the common case). */
function masksOf(statements: readonly DecidedStatement[]): MaskRule[] {
  let masks: MaskRule[] | null = null;
  for (const s of statements) if (s.decision.action === 'mask') (masks ??= []).push(...s.decision.masks);
  return masks ?? (NO_MASKS as MaskRule[]);
}

/** After the verdicts: the first refusal, masks at the source, then the audit records. */
function concludeDecision(
  ctx: DecisionContext,
  text: string,
  protocol: 'simple' | 'extended',
  statements: DecidedStatement[],
  error: GatehouseError | null,
  options: DecideOptions,
): QueryDecision | Promise<QueryDecision> {
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
    // A write relying on a pinned trigger function beside a COPY FROM STDIN, whose output cannot be held for the check (R19b-3).
    error ??= pinsBesideCopyIn(statements, relations, statements[0]?.decision.id);
    // ... or followed by anything: its check would come too late (R18b-3, R20a-1).
    error ??= pinsNotLast(statements, relations, statements[0]?.decision.id);
  }
  for (const s of statements) if (writesMaskedTable(s, relations)) s.writesMaskedTable = true;
  let forwardText: string | null = null;
  if (!error) {
    const applied = applyMasks(ctx, text, statements);
    if (applied instanceof GatehouseError) error = applied;
    else forwardText = applied;
  }
  if (!error && ctx.disclosures !== undefined && ctx.disclosures.phi.size > 0) forwardText = addSubjectColumns(ctx, ctx.disclosures.phi, text, forwardText, statements);
  // Audited before the decision is returned, so before anything is forwarded; a long string in slices.
  const audited = error || options.auditForwarded !== false ? auditStatementsInSlices(ctx, statements, options.parameters, options.stop) : undefined;
  if (error) {
    const refused: QueryDecision = { kind: 'refuse', statements, error };
    return audited instanceof Promise ? afterAudit(ctx, statements, audited, refused) : refused;
  }
  const masks = masksOf(statements);
  // The relations the lock check looked at, locked from the string's start (red-team round 15, R15-1).
  // Extended protocol: nothing is prepended (25P01 outside a block); a pipelined message gets a DO block (enforce/lock-ahead.ts).
  const lockPrefix = parsed !== null ? lockPrefixFor(parsed, relations) : null;
  // The trigger functions its writes under a mask fire, checked after them in their transaction (R18b-3).
  const pins = parsed !== null ? functionPinsOf(statements, relations) : [];
  const forward: QueryDecision =
    pins.length > 0 ? { kind: 'forward', statements, masks, forwardText, lockPrefix, functionPins: pins } : { kind: 'forward', statements, masks, forwardText, lockPrefix };
  return audited instanceof Promise ? afterAudit(ctx, statements, audited, forward) : forward;
}

/**
 * The decision once a long string's records are written; stopped while they were written: those not
 * written are recorded as not decided, nothing goes on. (Its closures are made only for such a string,
 * not for every decision.)
 */
function afterAudit(ctx: DecisionContext, statements: DecidedStatement[], audited: Promise<void>, decision: QueryDecision): Promise<QueryDecision> {
  return audited.then(
    () => decision,
    (e: unknown) => (e instanceof SlicesStopped ? stoppedInAudit(ctx, statements, e) : Promise.reject(e)),
  );
}

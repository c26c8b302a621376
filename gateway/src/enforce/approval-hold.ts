// Statements a policy decided `approve`, between their verdicts and their conclusion: held until
// answered (ApprovalGate), let through at Parse (the Execute is held), or refused at once when a
// write would read masked columns of its own table, is a COPY FROM whose rows approvers would not
// see, or would wait holding the locks its own Parse or Bind took. Called by the decision point only.

import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { isParseTime, type ApprovalGate, type GateOutcome } from './approval-gate.ts';
import type { BoundParameters } from './setting-guard.ts';
import { referencedColumns } from './write-reads.ts';
import { readMasksOf, type ReadProbe } from './write-probe.ts';

/** What this step reads of a decided statement (the decision point's DecidedStatement has it). */
interface Decided {
  text: string;
  input: PolicyInput | null;
  decision: Decision;
  probe?: ReadProbe;
  /** Decided `approve` at Parse, where nothing waits: its Execute is held for the approval (pg/arrival-locks.ts holds its Parse and Bind with it). */
  approvalAtExecute?: boolean;
}

/**
 * Statements decided `approve` wait for their answers (ctx.approvals): approved ones go on as
 * `mask` (their masks still apply) or `allow`, otherwise the first refusal is the answer. Null
 * when nothing waits: no approve decision, a deny anywhere (it wins), or
 * Parse, where an approve passes and its Execute, with bound values, is held.
 */
export function holdForApproval<S extends Decided>(
  gate: ApprovalGate,
  queryText: string,
  statements: S[],
  protocol: 'simple' | 'extended',
  parameters: BoundParameters | undefined,
  ownLocksUpstream = false,
): Promise<{ statements: S[]; error: GatehouseError | null }> | null {
  if (!statements.some((s) => s.decision.action === 'approve') || statements.some((s) => s.decision.action === 'deny')) return null;
  const proceed = (s: S, note: string): S => ({
    ...s,
    decision: { ...s.decision, action: s.decision.masks.length > 0 ? 'mask' : 'allow', reason: `${s.decision.reason}; ${note}` },
  });
  if (isParseTime(parameters)) return Promise.resolve({ statements: statements.map((s) => (s.decision.action === 'approve' ? { ...proceed(s, 'approval asked at Execute'), approvalAtExecute: true } : s)), error: null });
  for (const s of statements) {
    const error = s.decision.action === 'approve' ? (copyFromClient(s) ?? maskedWriteRead(s) ?? (ownLocksUpstream ? interleaved(s) : null)) : null;
    if (error) return Promise.resolve({ statements, error });
  }
  const bound = parameters === undefined || parameters === 'unbound' ? [] : parameters;
  const held = statements.filter((s) => s.decision.action === 'approve');
  const asked = gate.hold(held.map((s) => ({ decision: s.decision, input: s.input, text: s.text, queryText, protocol, parameters: bound }))).catch(
    (e: unknown): GateOutcome => ({ kind: 'refused', error: isGatehouseError(e) ? e : new GatehouseError('APPROVAL_REQUIRED', `the approval could not be asked: ${e instanceof Error ? e.message : String(e)}`, { decisionId: held[0]?.decision.id }) }),
  );
  return asked.then((outcome) => {
    if (outcome.kind === 'refused') return { statements, error: outcome.error };
    const notes = new Map(held.map((s, i) => [s, outcome.notes[i] ?? 'approved']));
    return { statements: statements.map((s) => { const note = notes.get(s); return note === undefined ? s : proceed(s, note); }), error: null };
  });
}

/**
 * An Execute whose statement's Parse or Bind the server already has in the open transaction (another
 * statement's Execute, or a Flush, between them and it: pg/approval-exposure.ts) would hold their locks for
 * the whole wait, a migration queued behind them and every later statement on the table behind it
 * (red-team round 18a, R18a-4). Refused before anyone is asked; the server skips the rest to the Sync.
 */
function interleaved(s: Decided): GatehouseError {
  return new GatehouseError('APPROVAL_INTERLEAVED', 'a statement that needs approval must not be interleaved with other statements\' Executes (or a Flush) in one pipeline, so it was not held for approval', {
    decisionId: s.decision.id,
    detail: 'Its Parse or Bind had already been sent to the server ahead of its Execute, so its table locks would be held for the whole approval wait.',
    hint: 'Send it in its own Parse/Bind/Execute/Sync (or Parse, Bind, Describe, Execute with nothing between them).',
  });
}

/**
 * COPY ... FROM STDIN sends its rows after the statement: approvers would say yes to rows they never
 * see (and a grant would let any rows in). Refused before anyone is asked; INSERT shows its values.
 */
function copyFromClient(s: Decided): GatehouseError | null {
  const copy = s.input?.statement.copy;
  if (copy === null || copy === undefined || copy.direction !== 'from') return null;
  return new GatehouseError('FEATURE_NOT_SUPPORTED', 'COPY ... FROM is not held for approval: its rows come after the statement, so approvers would not see what they approve', {
    decisionId: s.decision.id,
    hint: 'Write the rows with INSERT (its values or bound parameters are shown to approvers).',
  });
}

/**
 * A write held for approval may not read (WHERE, RETURNING, SET values) columns the identity reads
 * masked in the table it writes: its decision's masks and its read probe (enforce/write-probe.ts)
 * say how this identity reads each written table, and a reference to a masked column (or "*") is
 * refused before anyone is asked. Null: fine.
 */
function maskedWriteRead(s: Decided): GatehouseError | null {
  if (s.input === null || s.input.statement.tables_written.length === 0) return null;
  const written = s.input.statement.tables_written;
  const readMasks = readMasksOf(s);
  // Not readable at all (or the policy could not tell): every column counts as masked, as PostgreSQL
  // itself needs SELECT on the columns a write's WHERE or RETURNING reads.
  const probe = s.probe;
  const unreadable = (probe !== undefined && probe.outcome !== 'read' && written.some((t) => probe.tables.includes(t))) || written.some((t) => readMasks(t) === 'unknown');
  const masked = new Set(written.flatMap((t) => { const m = readMasks(t); return m === 'unknown' ? [] : [...m.keys()]; }));
  if (!unreadable && masked.size === 0) return null;
  const used = referencedColumns(s.text);
  const hit = used === null ? '(unparsed)' : [...used].find((c) => unreadable || c === '*' || masked.has(c));
  if (hit === undefined) return null;
  return new GatehouseError('MASKED_COLUMN_READ', `this write reads ${hit === '*' ? 'every column' : `column "${hit}"`} of a table you read masked, so it is not held for approval`, {
    decisionId: s.decision.id,
    detail: unreadable ? `you may not read ${written.join(', ')}` : `masked for you in ${written.join(', ')}: ${[...masked].sort().join(', ')}`,
    hint: 'Leave masked columns out of WHERE, SET values and RETURNING (a write to a masked table is not run under a mask).',
  });
}

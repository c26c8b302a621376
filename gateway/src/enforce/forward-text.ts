// The query string forwarded for a decided string: masks applied at the source (statement rewrite) and,
// for accounting of disclosures, the subject columns of PHI tables asked for as hidden columns.

import { GatehouseError } from '../errors.ts';
import { rewriteForMasksCached } from './mask-rewrite-cache.ts';
import { detectionScopeRefusal } from './detection-scope.ts';
import type { PhiTables } from './hidden-subjects.ts';
import { planSubjects } from './subject-columns.ts';
import type { DecisionContext } from './decision-context.ts';
import type { DecidedStatement } from './decided-statement.ts';

/**
 * Masks at the source: rewrites the masked tables of statements decided `mask` (enforce/
 * mask-rewrite.ts) and notes each statement's forwarded text. Returns the query string to forward
 * (null: the client's, unchanged) or the refusal when the masks cannot be applied.
 */
export function applyMasks(ctx: DecisionContext, text: string, statements: DecidedStatement[]): string | null | GatehouseError {
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
export function addSubjectColumns(ctx: DecisionContext, phi: PhiTables, text: string, forwardText: string | null, statements: DecidedStatement[]): string | null {
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

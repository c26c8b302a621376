// A write under a mask is decided against the constraints, indexes and triggers that exist when it runs
// (red-team round 10, R10-10): a unique index created directly on the server after the relation
// snapshot was read would otherwise be unknown, and a write under it an existence oracle. Before such a
// write is settled, the fingerprints of the relations it reaches (pg/relation-structure.ts: one small
// query over the catalog connection) are compared with the snapshot's; on a difference the snapshot is
// read again (pg/catalog-snapshot.ts fresh(): no other session waits for it, issue 11) and the
// statement decided again. For a simple Query the lock prefix (enforce/lock-prefix.ts) then holds the
// written tables from the string's start, so no DDL fits between that check and the write.

import { GatehouseError } from '../errors.ts';
import type { PolicyInput } from '../policy/types.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';
import { maySeeMasks, type ProbedStatement } from './write-probe.ts';
import type { TriggerReview } from './trigger-review.ts';

/** A decided statement as the check sees it: its write probe, and whether its identity is under a mask. */
export type CheckedStatement = ProbedStatement & { triggerReview?: TriggerReview };

/** At most this long for the check and the read; then the write is refused (55000), not decided on an older snapshot. */
export const FRESH_CATALOG_WAIT_MS = 5_000;

/** How the wait for a fresh read ended: `fresh` also when the rows were the same (same snapshot). */
export type FreshCatalogWait = 'fresh' | 'failed' | 'timeout';

/** The relation snapshot as the decision point sees it; without `fresh` (tests, tools) nothing is checked. */
export interface FreshRelations {
  current(): RelationCatalog | null;
  /** Resolves once a read that started after the call ended (pg/catalog-snapshot.ts). */
  fresh?(timeoutMs: number): Promise<FreshCatalogWait>;
  /** The constraint fingerprints of these relations on the server now; absent: every check reads the snapshot again. */
  structure?(oids: readonly number[]): Promise<Map<number, string>>;
  /** The direct parents on the server now of those of these relations that have one (enforce/fresh-ancestry.ts); absent: not checked. */
  withParents?(oids: readonly number[]): Promise<Map<number, number[]>>;
}

/**
 * null when no statement is a write that may meet masked columns (the normal case: nothing waits);
 * else the check, and whether the snapshot it leaves differs from `decidedWith`.
 */
export function freshCatalogFor(
  relations: FreshRelations,
  statements: readonly CheckedStatement[],
  decidedWith: RelationCatalog | null,
): Promise<'same' | 'changed' | Exclude<FreshCatalogWait, 'fresh'>> | null {
  const fresh = relations.fresh;
  if (fresh === undefined || decidedWith === null) return null;
  if (!statements.some(checked)) return null; // the normal case: no allocation
  const writes = statements.filter(checked);
  const reached = reachedRelations(writes.flatMap((s) => (s.input === null ? [] : [s.input])), decidedWith, writes.flatMap((s) => s.triggerReview?.chainedTables ?? []));
  const readAgain = (): Promise<'same' | 'changed' | Exclude<FreshCatalogWait, 'fresh'>> =>
    fresh.call(relations, FRESH_CATALOG_WAIT_MS).then((r) => (r !== 'fresh' ? r : relations.current() === decidedWith ? 'same' : 'changed'));
  if (relations.structure === undefined) return readAgain().catch(() => 'failed' as const);
  return withTimeout(relations.structure(reached.map((r) => r.oid)), FRESH_CATALOG_WAIT_MS)
    .then((now) => (now === 'timeout' ? 'timeout' : reached.every((r) => r.structure === now.get(r.oid)) ? 'same' : readAgain()))
    .catch(() => 'failed' as const);
}

/**
 * The relations whose catalog rows decide what writes of `inputs` check and fire: each table written,
 * its partitions and children, what its views and rules read, the tables its foreign-key actions write
 * (all of these transitively), and the tables its foreign keys reference or are referenced from; and
 * `chained`: the tables its reviewed trigger functions declare they write (enforce/trigger-chain.ts), so
 * a trigger created on one after the snapshot is seen before the write (R20b-3).
 */
export function reachedRelations(inputs: readonly PolicyInput[], relations: RelationCatalog, chained: readonly string[] = []): RelationInfo[] {
  const out = new Map<string, RelationInfo>();
  const stack = [...inputs.flatMap((i) => i.statement.tables_written), ...chained];
  const edge = (qualified: string): void => {
    const rel = relations.get(qualified);
    if (rel !== null) out.set(qualified, rel);
  };
  const expanded = new Set<string>();
  while (stack.length > 0) {
    const qualified = stack.pop()!;
    if (expanded.has(qualified)) continue;
    expanded.add(qualified);
    const rel = relations.get(qualified);
    if (rel === null) continue;
    out.set(qualified, rel);
    for (const member of relations.descendants(qualified)) stack.push(member.qualified);
    stack.push(...rel.reads, ...(rel.actionWrites ?? []));
    for (const fk of rel.foreignKeys ?? []) edge(fk.table);
    for (const k of rel.keys ?? []) if (k.kind === 'referenced' && k.from !== undefined) edge(k.from);
  }
  return [...out.values()];
}

/**
 * A statement the check is for: a write, not denied, that may meet masked columns, or of an identity
 * that reads something masked (the horizon probe, enforce/statement-evaluation.ts): a rule or trigger
 * created on the server after the snapshot on a table it reads unmasked runs raw too (R17a-3).
 */
export function checked(s: CheckedStatement): boolean {
  if (s.decision.action === 'deny') return false;
  return maySeeMasks(s) || (s.triggerReview?.identity === 'masked' && (s.input?.statement.tables_written ?? []).length > 0);
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A write held for approval (enforce/approval-hold.ts) was reviewed when it was decided, which can be up
 * to an hour before it runs: a trigger, constraint or index created directly on the server meanwhile would
 * meet it unreviewed (red-team rounds 17a and 17b, R17a-5 and R17b-2). Once approved it is checked again the same way; null
 * when nothing is checked or nothing changed, else the refusal (55000: send it again, to be decided anew).
 */
export function changedWhileHeld(
  relations: FreshRelations,
  statements: readonly CheckedStatement[],
  decidedWith: RelationCatalog | null,
): Promise<GatehouseError | null> | null {
  const check = freshCatalogFor(relations, statements, decidedWith);
  if (check === null) return null;
  return check.then((r) => {
    if (r === 'same') return null;
    const what = r === 'changed' ? 'changed on the server (a trigger, constraint or index created, altered or dropped)' : `could not be checked again (${r})`;
    return new GatehouseError('CATALOG_STALE', `Gatehouse refused this write: the tables it reaches ${what} while it waited for approval, so what was reviewed when it was decided no longer holds, and nothing of it ran`, {
      ...(statements[0] !== undefined ? { decisionId: statements[0].decision.id, detail: `decision ${statements[0].decision.id}` } : {}),
      hint: 'Send the statement again: it is decided against the schema as it is now (and held for approval again if the policy asks for it).',
    });
  });
}

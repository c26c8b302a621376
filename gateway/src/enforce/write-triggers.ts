// The user triggers a statement's writes can fire (policy input statement.triggers), from the
// relation snapshot: every enabled trigger of each table written, of its partitions and child
// tables (rows routed or reached there fire theirs), of the tables an updatable view written reads
// (its INSTEAD OF triggers, or the base table's) or a rule of a written table names (it may redirect
// the write), of the tables foreign-key actions of any of those write, and for TRUNCATE of every
// table whose foreign key references one (TRUNCATE ... CASCADE), transitively. Listed whatever
// their events: over-reporting keeps a policy safe. The functions those triggers' WHEN conditions
// and those tables' defaults and constraints call come from the same walk.

import type { PolicyTrigger } from '../policy/types.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';

/** What a write of some tables runs on every relation it reaches, found in one walk of them. */
export interface WriteEffects {
  /** The user triggers it can fire, sorted by table then name (statement.triggers). */
  triggers: PolicyTrigger[];
  /**
   * The user functions the WHEN conditions of those triggers call (statement.trigger_functions lists
   * them with the triggers' own functions: they run on each row too; red-team round 12, R12-5).
   */
  triggerCalls: string[];
  /**
   * The user functions it runs besides triggers (defaults, generated columns, CHECK and domain
   * constraints, index expressions; R12-1), and those the types of the reached tables' columns choose
   * (operator classes, casts), in statement.user_functions.
   */
  calls: string[];
  /**
   * Those of the functions above (triggers' own, WHEN conditions', calls) that Gatehouse's upstream role
   * could replace while the write runs (statement.replaceable_functions; enforce/replaceable-functions.ts).
   */
  replaceable: string[];
}

export function writeEffects(written: readonly string[], relations: RelationCatalog, truncate = false): WriteEffects {
  const triggers: PolicyTrigger[] = [];
  const triggerCalls = new Set<string>();
  const calls = new Set<string>();
  const replaceable = new Set<string>();
  for (const rel of reachedByWrite(written, relations, truncate)) {
    for (const f of rel.replaceableFunctions ?? []) replaceable.add(f);
    if (rel.triggers) triggers.push(...rel.triggers);
    for (const f of rel.triggerCalls ?? []) triggerCalls.add(f);
    for (const f of rel.writeCalls ?? []) calls.add(f);
    // Index maintenance, key checks and cascaded writes compare its columns' values (masking14).
    for (const f of rel.typeCalls ?? []) calls.add(f);
  }
  return { triggers: triggers.sort(byTableThenName), triggerCalls: [...triggerCalls].sort(), calls: [...calls].sort(), replaceable: [...replaceable].sort() };
}

function byTableThenName(a: PolicyTrigger, b: PolicyTrigger): number {
  return a.table === b.table ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.table < b.table ? -1 : 1;
}

/** Every relation a write of `written` can reach (each once); the trigger chain follows a reviewed function's tables the same way (trigger-chain.ts). */
export function reachedByWrite(written: readonly string[], relations: RelationCatalog, truncate: boolean): RelationInfo[] {
  const seen = new Set<string>();
  const out: RelationInfo[] = [];
  const stack = [...written];
  while (stack.length > 0) {
    const qualified = stack.pop()!;
    if (seen.has(qualified)) continue;
    seen.add(qualified);
    const rel = relations.get(qualified);
    if (rel === null) continue;
    const family: readonly RelationInfo[] = [rel, ...relations.descendants(qualified)];
    for (const member of family) {
      if (member !== rel) stack.push(member.qualified);
    }
    out.push(rel);
    // A view's definition, or a table's rules (pg_rewrite, in `reads` too): where the write may go.
    stack.push(...rel.reads);
    stack.push(...(rel.actionWrites ?? []));
    if (truncate) for (const k of rel.keys ?? []) if (k.kind === 'referenced' && k.from) stack.push(k.from);
  }
  return out;
}

// The triggers a write fires through what its reviewed trigger functions write (red-team round 20b,
// R20b-3): PostgreSQL records nowhere which tables a PL body writes, so a review says it ("fn@sha256:...
// writes public.history": policy/reviewed-entries.ts), and the user triggers of those tables, then of the
// tables named by the reviews of their functions, run under the write too. Followed to MAX_CHAIN_DEPTH
// levels, each named table as far as a write of it reaches (partitions and children, views' and rules'
// targets, foreign-key actions: write-triggers.ts); a table a review names that the snapshot does not know,
// one reaching a table with rules of its own, or a chain deeper than that, makes the function that declared
// it vouch for nothing (fail closed). A review without `writes` vouches that its
// body writes no table with triggers: nothing is followed (as before).

import { declaredWrites } from '../policy/reviewed-entries.ts';
import type { RelationCatalog, TriggerInfo } from './relation-catalog.ts';
import { reachedByWrite } from './write-triggers.ts';

/** At most this many levels of tables are followed; a longer chain is refused. */
export const MAX_CHAIN_DEPTH = 16;

/** What a write runs beyond its own tables' triggers. */
export interface TriggerChain {
  /** The user triggers of the tables reviewed functions write, transitively. */
  triggers: TriggerInfo[];
  /** Their functions and their WHEN conditions' functions (each once). */
  functions: string[];
  /** The tables the reviews name, transitively (their catalog rows decide what the write runs). */
  tables: string[];
  /** What writes to those tables run that Gatehouse's upstream role could replace (RelationInfo.replaceableFunctions). */
  replaceable: string[];
  /** Reviewed functions whose `writes` name a table the snapshot does not know, reach a table with rules, or reach too deep. */
  broken: string[];
}

/** The chain from the functions `fired` (statement.trigger_functions), by the `reviewed` entries of the verdict. */
export function triggerChainOf(fired: readonly string[], reviewed: readonly string[], relations: RelationCatalog | null): TriggerChain {
  const chain: TriggerChain = { triggers: [], functions: [], tables: [], replaceable: [], broken: [] };
  if (reviewed.length === 0 || !reviewed.some((e) => e.includes(' writes '))) return chain;
  const tables = new Set<string>();
  const functions = new Set<string>();
  let frontier = [...new Set(fired)];
  for (let depth = 0; frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const f of frontier) {
      for (const t of declaredWrites(f, reviewed)) {
        if (depth >= MAX_CHAIN_DEPTH || relations === null) {
          chain.broken.push(f);
          continue;
        }
        if (tables.has(t)) continue;
        tables.add(t);
        if (relations.get(t) === null) {
          chain.broken.push(f);
          continue;
        }
        // A row written there reaches what a write of the first link reaches (R21a-6): its partitions and
        // children, a view's base tables, the tables foreign-key actions write. A rule of its own runs its
        // actions on the row raw (DO ALSO INSERT ... NEW.secret): no review covers it, so none vouches.
        const reached = reachedByWrite([t], relations, false);
        if (reached.some((r) => r.rules === true)) {
          chain.broken.push(f);
          continue;
        }
        for (const rel of reached) {
          for (const trigger of rel.triggers ?? []) chain.triggers.push(trigger);
          for (const f of rel.replaceableFunctions ?? []) if (!chain.replaceable.includes(f)) chain.replaceable.push(f);
          for (const g of [...(rel.triggers ?? []).map((x) => x.function), ...(rel.triggerCalls ?? [])]) {
            if (functions.has(g)) continue;
            functions.add(g);
            next.push(g);
          }
        }
      }
    }
    frontier = next;
  }
  chain.functions = [...functions];
  chain.tables = [...tables];
  chain.broken = [...new Set(chain.broken)];
  return chain;
}

// Facts about a statement that only the database's catalog knows (policy/input.ts CatalogFacts):
// the tables read through the views it names (and the parents of partitions it names, and the
// partitions and inheritance children of the tables it or its views name: their rows are read too, and the
// tables their row-level security policies read), the
// functions those views call (so deny-sql-text and deny-user-functions see them), and the
// functions called, directly or through views, or run by its writes (defaults, constraints, index
// expressions), or chosen by the types of the columns of the relations it reads or writes (operator
// classes, implicit casts), that are not built in; the user triggers its
// writes can fire (enforce/write-triggers.ts). Read from the snapshots, synchronously.

import type { CatalogFacts } from '../policy/input.ts';
import type { StatementFacts } from '../sql/facts.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import { writeEffects, type WriteEffects } from './write-triggers.ts';
import { harmfulOperatorsAndTypes } from './routine-uses.ts';
import { generatedSourcesNamed } from './generated-masks.ts';

/** The last answer for a statement's facts (the shape cache hands out one facts object per shape), and the snapshots it read. */
const lastFor = new WeakMap<StatementFacts, { relations: RelationCatalog | null; routines: RoutineCatalog | null; result: CatalogFacts }>();

/**
 * What the catalog adds to `facts`. A pure function of the three: the snapshots are immutable (a
 * catalog change builds new ones), so the answer is kept per facts object while they are current,
 * frozen because every statement of that shape shares it.
 */
export function catalogFacts(facts: StatementFacts, relations: RelationCatalog | null, routines: RoutineCatalog | null): CatalogFacts {
  const last = lastFor.get(facts);
  if (last !== undefined && last.relations === relations && last.routines === routines) return last.result;
  const result = freezeFacts(computeCatalogFacts(facts, relations, routines));
  lastFor.set(facts, { relations, routines, result });
  return result;
}

function freezeFacts(c: CatalogFacts): CatalogFacts {
  Object.freeze(c.tablesReadThrough);
  Object.freeze(c.functionsThrough);
  Object.freeze(c.userFunctions);
  if (c.replaceableFunctions) Object.freeze(c.replaceableFunctions);
  if (c.columnsThrough) Object.freeze(c.columnsThrough);
  // triggers and triggerCalls may be the relation snapshot's own (immutable) lists: left as they are.
  return Object.freeze(c);
}

function computeCatalogFacts(facts: StatementFacts, relations: RelationCatalog | null, routines: RoutineCatalog | null): CatalogFacts {
  const through = new Set<string>();
  const calls = new Set<string>();
  // Functions chosen by the types of the columns of every relation read or written, directly or
  // through views (operator classes, implicit casts: masking14): user functions when not built in.
  const typeCalls = new Set<string>();
  if (relations !== null) {
    for (const t of [...facts.tablesRead, ...facts.tablesWritten]) {
      const rel = relations.get(t.qualified);
      if (rel === null) continue;
      for (const r of rel.reads) through.add(r);
      for (const a of rel.ancestors) through.add(a);
      // A read, update or delete of a table reaches the rows of its partitions and inheritance children
      // (unless ONLY, which the facts do not tell: listed anyway), so their policy applies to it too (R21a-3).
      // A child's rows are also the rows of its other parents (multiple inheritance, R21e-1): their policy too.
      for (const d of relations.descendants(t.qualified)) for (const x of [d.qualified, ...d.ancestors]) if (x !== t.qualified) through.add(x);
      for (const r of rel.reads) {
        for (const a of relations.get(r)?.ancestors ?? []) through.add(a);
        for (const d of relations.descendants(r)) for (const x of [d.qualified, ...d.ancestors]) through.add(x);
      }
      // Tables its row-level security policies (and those of the tables its views read) read in subqueries:
      // their raw values filter or check its rows (R21d-5).
      for (const x of [rel, ...rel.reads.flatMap((r) => relations.get(r) ?? [])]) for (const c of x.checks ?? []) for (const r of c.reads ?? []) through.add(r);
      for (const f of rel.calls ?? []) calls.add(f);
      for (const f of rel.typeCalls ?? []) typeCalls.add(f);
      for (const r of rel.reads) for (const f of relations.get(r)?.typeCalls ?? []) typeCalls.add(f);
    }
  }
  const written = facts.tablesWritten.map((t) => t.qualified);
  const truncate = facts.command === 'TruncateStmt';
  // Functions the write runs besides triggers (defaults, CHECK and domain constraints, index
  // expressions; red-team round 12, R12-1): user functions when not built in (C ones are harmless).
  const byWrite: WriteEffects = relations === null || written.length === 0 ? { triggers: [], triggerCalls: [], calls: [], replaceable: [] } : writeEffects(written, relations, truncate);
  const userFunctions: string[] = [];
  if (routines !== null) {
    for (const f of [...facts.functions, ...calls, ...typeCalls, ...byWrite.calls]) {
      const dot = f.lastIndexOf('.');
      const name = { schema: dot < 0 ? null : f.slice(0, dot), name: dot < 0 ? f : f.slice(dot + 1) };
      if (routines.verdict('function', name) === 'harmful') userFunctions.push(f);
    }
    // User operators and types named in the statement run user functions too (R12-8).
    userFunctions.push(...harmfulOperatorsAndTypes(facts, routines));
  }
  // Naming a generated column reads the columns it is computed from (R21a-2).
  const columnsThrough = relations === null ? {} : generatedSourcesNamed(facts.columns, relations);
  return {
    tablesReadThrough: [...through],
    functionsThrough: [...calls],
    userFunctions: [...new Set(userFunctions)],
    triggers: byWrite.triggers,
    triggerCalls: byWrite.triggerCalls,
    replaceableFunctions: byWrite.replaceable,
    ...(Object.keys(columnsThrough).length > 0 ? { columnsThrough } : {}),
  };
}

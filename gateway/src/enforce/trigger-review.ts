// Under a mask, the user triggers a write fires (red-team round 10, R10-6): a trigger's function runs
// with raw access to every table, whatever the write names, so it can quote a masked value in a
// notice or error, or write a masked table under its constraints (an INSTEAD OF trigger of a view:
// an existence oracle the catalog does not show). Such a write is refused for an identity that reads
// anything masked, or may not read some table, unless each function it can fire is built in (in
// pg_catalog: it cannot read tables, and tells no stored value) or the policy vouches for it
// (EngineVerdict.reviewed). Whether the identity is under a mask is the policy's answer for reading
// every relation of the snapshot (the "horizon probe", asked only for writes that can fire an
// unvouched function): a trigger's function may read any.

import { createHash } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import type { EngineVerdict, PolicyInput } from '../policy/types.ts';
import { reviewOf } from '../policy/reviewed-entries.ts';
import type { ReadProbe } from './write-probe.ts';
import type { RelationCatalog, TriggerInfo } from './relation-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import { MAX_CHAIN_DEPTH, triggerChainOf } from './trigger-chain.ts';

const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema']);

/** What the trigger check found for one write (any write not denied): the functions nobody vouches for, and how the identity reads. */
export interface TriggerReview {
  /** Trigger functions (and functions their WHEN conditions call) neither built in nor reviewed by the policy. */
  unvouched: string[];
  /**
   * Those of `unvouched` the policy does review but whose names the writer's session resolves (no
   * search_path ending in pg_temp in their definition; R18b-1): a review does not count for them.
   */
  unpinned?: string[];
  /** `clear`: the identity reads every relation unmasked; `masked`: it reads something masked, may not read something, or the policy could not say. */
  identity: 'clear' | 'masked';
  /** Triggers of the tables reviewed functions declare they write (enforce/trigger-chain.ts); absent: none. */
  chained?: TriggerInfo[];
  /** Functions the chained tables' writes run that Gatehouse's upstream role could replace (enforce/replaceable-functions.ts). */
  chainedReplaceable?: string[];
  /** Reviewed functions whose `writes` name a table Gatehouse does not know, or a chain deeper than it follows. */
  broken?: string[];
  /** Those tables: they join the write's fresh-catalog check (enforce/fresh-catalog.ts). Absent: none. */
  chainedTables?: string[];
}

/**
 * Built-in trigger functions whose effect tells a stored value (red-team round 17a, R17a-1):
 * suppress_redundant_updates_trigger skips an update that changes nothing, so an UPDATE assigning a
 * guess to a masked column reports 0 rows exactly when the guess is what is stored.
 */
const REVEALING_BUILT_INS: ReadonlySet<string> = new Set(['pg_catalog.suppress_redundant_updates_trigger']);

/**
 * The functions of statement.trigger_functions that may read a table or tell a stored value, and that
 * the verdict does not vouch for. Only functions in pg_catalog count as built in here: a C function
 * elsewhere is harmless in an expression's place (routine-snapshot.ts), but contrib ships C trigger
 * functions that look the written value up in any table (refint's check_primary_key: an existence
 * oracle) or NOTIFY the row's key values (tcn; R17a-2). Without the routine catalog every one counts
 * (fail closed).
 */
export function unvouchedTriggerFunctions(
  input: PolicyInput,
  verdict: EngineVerdict,
  routines: RoutineCatalog | null,
  unpinned: ReadonlySet<string> | null,
  relations: RelationCatalog | null = null,
): Pick<TriggerReview, 'unvouched' | 'unpinned' | 'chained' | 'chainedTables' | 'chainedReplaceable' | 'broken'> {
  const first = input.statement.trigger_functions ?? [];
  if (first.length === 0) return { unvouched: [] };
  const reviewed = verdict.reviewed ?? [];
  // What reviewed functions write fires triggers too (R20b-3): their functions are checked the same way.
  const chain = triggerChainOf(first, reviewed, relations);
  const fired = [...new Set([...first, ...chain.functions])];
  const triggers = [...(input.statement.triggers ?? []), ...chain.triggers];
  const broken = new Set(chain.broken);
  const notPinned: string[] = [];
  const unvouched = fired.filter((f) => {
    if (broken.has(f)) return true;
    const review = reviewed.length === 0 ? 'unlisted' : reviewOf(f, reviewed, definitionsOf(triggers, f));
    if (review === 'name' || review === 'pinned') {
      // A review counts only where the writer's session cannot change what the function's names mean (R18b-1).
      if (unpinned !== null && !unpinned.has(f)) return false;
      notPinned.push(f);
      return true;
    }
    if (REVEALING_BUILT_INS.has(f)) return true;
    const dot = f.indexOf('.');
    if (routines === null || dot < 0 || f.slice(0, dot) !== 'pg_catalog') return true;
    return routines.verdict('function', { schema: 'pg_catalog', name: f.slice(dot + 1) }) !== 'harmless';
  });
  const found: Pick<TriggerReview, 'unvouched' | 'unpinned' | 'chained' | 'chainedTables' | 'chainedReplaceable' | 'broken'> = notPinned.length === 0 ? { unvouched } : { unvouched, unpinned: notPinned };
  if (chain.triggers.length > 0) found.chained = chain.triggers;
  if (chain.tables.length > 0) found.chainedTables = chain.tables;
  if (chain.broken.length > 0) found.broken = chain.broken;
  if (chain.replaceable.length > 0) found.chainedReplaceable = chain.replaceable;
  return found;
}

const UNPINNED = new WeakMap<RelationCatalog, ReadonlySet<string>>();

/** Every trigger function (and WHEN condition's function) of the snapshot that resolves names with the writer's session (made once per snapshot). */
export function unpinnedFunctionsOf(relations: RelationCatalog): ReadonlySet<string> {
  const known = UNPINNED.get(relations);
  if (known !== undefined) return known;
  const out = new Set<string>();
  for (const qualified of relations.names()) for (const f of relations.get(qualified)?.unpinnedFunctions ?? []) out.add(f);
  UNPINNED.set(relations, out);
  return out;
}

/** The definitions (function_digest) function `f` runs with in the statement's triggers and their chain. */
function definitionsOf(triggers: readonly TriggerInfo[], f: string): Array<string | undefined> {
  return triggers.filter((t) => t.function === f).map((t) => t.function_digest);
}

/** The relations a trigger's function may read, and a digest of their names (for the probe's cache key). */
export interface Horizon {
  tables: string[];
  digest: string;
}

const HORIZONS = new WeakMap<RelationCatalog, Horizon>();

/** Every relation of the snapshot outside the system schemas (made once per snapshot). */
export function horizonOf(relations: RelationCatalog): Horizon {
  const known = HORIZONS.get(relations);
  if (known !== undefined) return known;
  const tables: string[] = [];
  for (const qualified of relations.names()) {
    const schema = qualified.slice(0, qualified.indexOf('.'));
    if (!SYSTEM_SCHEMAS.has(schema) && !schema.startsWith('pg_toast')) tables.push(qualified);
  }
  tables.sort();
  const horizon = { tables, digest: createHash('sha256').update(tables.join('\u0000')).digest('base64') };
  HORIZONS.set(relations, horizon);
  return horizon;
}

/** Whether the statement's own verdict or read probe already says the identity reads something masked. */
export function alreadyMasked(verdict: EngineVerdict, probe: ReadProbe | undefined): boolean {
  return verdict.masks.length > 0 || (verdict.detections ?? []).length > 0 || (probe !== undefined && (probe.outcome !== 'read' || probe.masks.length > 0));
}

/** How the horizon probe's answer classes the identity: only a read of everything without masks or content detection is clear. */
export function horizonIdentity(probe: ReadProbe, detections: readonly unknown[] = []): TriggerReview['identity'] {
  return probe.outcome === 'read' && probe.masks.length === 0 && detections.length === 0 ? 'clear' : 'masked';
}

/** What the refusal needs of a decided statement. */
export interface ReviewedStatement {
  input: PolicyInput | null;
  decision: { id: string; action: string; reviewed?: string[] };
  triggerReview?: TriggerReview;
}

/** The refusal (0A000) of the first write that fires an unvouched trigger function for an identity under a mask, or null. */
export function triggerReviewRefusal(statements: readonly ReviewedStatement[]): GatehouseError | null {
  for (const s of statements) {
    const review = s.triggerReview;
    if (s.decision.action === 'deny' || review === undefined || review.identity === 'clear' || review.unvouched.length === 0) continue;
    const f = review.unvouched[0]!;
    const trigger = [...(s.input?.statement.triggers ?? []), ...(review.chained ?? [])].find((t) => t.function === f);
    const what = trigger === undefined ? `a trigger it can fire calls ${f} in its WHEN condition` : `it can fire trigger ${trigger.name} on ${trigger.table}, whose function ${f}`;
    if (review.broken?.includes(f) === true) return brokenChainRefusal(s.decision.id, what, f);
    if (review.unpinned?.includes(f) === true) return unpinnedRefusal(s.decision.id, what, f);
    const pins = (s.decision.reviewed ?? []).filter((e) => e.startsWith(`${f}@`));
    if (pins.length > 0) {
      const now = trigger?.function_digest ?? 'unknown (a WHEN condition\'s function has no trigger of its own)';
      return new GatehouseError(
        'FEATURE_NOT_SUPPORTED',
        `Gatehouse does not run this write while a mask applies to you: ${what} is reviewed by the policy for another definition than the database has now (changed since the review, e.g. CREATE OR REPLACE FUNCTION)`,
        {
          decisionId: s.decision.id,
          detail: `reviewed: ${pins.map((e) => e.slice(f.length + 1)).join(', ')}; now: ${now}`,
          hint: `The policy owners can review ${f} as it is now and pin the new definition (${f}@${trigger?.function_digest ?? 'sha256:...'}); otherwise this write needs an identity without masks.`,
        },
      );
    }
    return new GatehouseError(
      'FEATURE_NOT_SUPPORTED',
      `Gatehouse does not run this write while a mask applies to you: ${what} is user-defined and reads tables raw (it could raise or write masked values), and the policy does not list it as reviewed`,
      {
        decisionId: s.decision.id,
        detail: `unreviewed trigger functions: ${review.unvouched.join(', ')}`,
        hint: `If ${f} reads nothing masked, the policy owners can list it as reviewed (Rego: add it to the verdict's "reviewed" set; Cedar: a @reviewed("${f}") annotation); otherwise this write needs an identity without masks.`,
      },
    );
  }
  return null;
}

/** The refusal of a write whose reviewed function `f` declares it writes a table Gatehouse cannot follow (R20b-3). */
function brokenChainRefusal(decisionId: string, what: string, f: string): GatehouseError {
  return new GatehouseError(
    'FEATURE_NOT_SUPPORTED',
    `Gatehouse does not run this write while a mask applies to you: ${what} is reviewed as writing a table Gatehouse does not know, or one whose writes reach a table with rules of its own (a rule's actions run on the row raw), or its tables' triggers chain deeper than ${MAX_CHAIN_DEPTH} levels, so what the write runs cannot be checked`,
    {
      decisionId,
      detail: `reviewed function with a chain Gatehouse cannot follow: ${f}`,
      hint: `The policy owners can correct the review's "writes" list (schema-qualified tables that exist), and the tables' owners drop rules on them; otherwise this write needs an identity without masks.`,
    },
  );
}

/** The refusal of a write whose reviewed function `f` resolves names with the writer's session (R18b-1). */
function unpinnedRefusal(decisionId: string, what: string, f: string): GatehouseError {
  return new GatehouseError(
    'FEATURE_NOT_SUPPORTED',
    `Gatehouse does not run this write while a mask applies to you: ${what} is reviewed by the policy, but ${f} does not set its own search_path ending in pg_temp, so your session decides which tables and functions its unqualified names mean (a temporary table of the same name, or a schema you create in)`,
    {
      decisionId,
      detail: `reviewed functions resolving names with the writer's session: ${f}`,
      hint: `The function's owner can pin its name resolution (ALTER FUNCTION ${f}(...) SET search_path = <its schemas>, pg_temp; pg_temp last, no "$user"), then the policy owners review it again and pin the new definition (its digest changes); otherwise this write needs an identity without masks.`,
    },
  );
}

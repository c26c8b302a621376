// Under a mask, a write that runs a function Gatehouse's upstream role could replace is refused before
// anything is sent (issue 6; red-team rounds 18b R18b-3 and 19b R19b-2). CREATE OR REPLACE FUNCTION and
// ALTER FUNCTION take no lock a write meets: a write waiting for a row runs whatever body is there when
// its trigger fires, and what that body does outside the transaction (setval(), NOTIFY, dblink) survives
// the pin check's refusal after it (enforce/function-pins.ts). The race needs a role that may replace the
// function; Gatehouse alone holds the upstream credentials, so the agent's roles are the upstream role
// and those it can become. The snapshot asks PostgreSQL which functions those are
// (pg/replaceable-functions.ts) and the policy input lists the ones a write runs
// (statement.replaceable_functions); this refusal does not depend on a policy remembering to read it.
// The same rule for every protocol: decideQuery (enforce/decision-point.ts) applies it to simple
// Queries, Parse/Bind/Execute and COPY FROM alike. A PL or string-bodied SQL function resolves the
// names it calls when it runs, so what it calls is not in the catalog: while that role can define code
// such a body might reach (it owns a user function, or may create in a schema), a write running one is
// refused the same way (pg/by-name-reach.ts; ownrole20b). Such a body resolves type and table names when
// it runs too, in the temporary schema first unless its path lists it: while that role can create
// temporary objects and some such body's path does not end in pg_temp, a write running one is refused
// as well (red-team round 20c, R20c-3).

import { GatehouseError } from '../errors.ts';
import { checked, type CheckedStatement } from './fresh-catalog.ts';

/** Marks an entry of statement.replaceable_functions that is there because its body calls functions by name. */
const BY_NAME = ' (calls functions by name; Gatehouse\'s role ';
/** Marks one that is there because its body resolves type and table names when it runs (R20c-3). */
const TEMP_TYPES = ' (resolves type and table names when it runs; Gatehouse\'s role ';

/**
 * The entry for a function a write runs whose body resolves the names it calls when it runs, while
 * Gatehouse's upstream role can define code such a body might reach (`why`, e.g. "can create functions
 * in schema public": pg/by-name-reach.ts).
 */
export function byNameEntry(fn: string, why: string): string {
  return `${fn}${BY_NAME}${why})`;
}

/**
 * The entry for a function a write runs whose body resolves names when it runs, while Gatehouse's
 * upstream role can create temporary types and tables such a body would find first (`why`:
 * pg/by-name-reach.ts tempTypes).
 */
export function tempTypesEntry(fn: string, why: string): string {
  return `${fn}${TEMP_TYPES}${why})`;
}

/** An entry of statement.replaceable_functions, read back. */
type Entry =
  | { kind: 'replaceable'; fn: string }
  | { kind: 'by-name'; fn: string; why: string }
  | { kind: 'temp-types'; fn: string; why: string };

function readEntry(e: string): Entry {
  for (const [kind, marker] of [['by-name', BY_NAME], ['temp-types', TEMP_TYPES]] as const) {
    const at = e.indexOf(marker);
    if (at >= 0) return { kind, fn: e.slice(0, at), why: e.slice(at + marker.length, -1) };
  }
  return { kind: 'replaceable', fn: e };
}

/** What the refusal says for one kind of entry: its reason, hint and detail, or nothing when there is none of that kind. */
function explain(entries: readonly Entry[], kind: Entry['kind']): { reason: string; hint: string; detail: string } | null {
  const of = entries.filter((e) => e.kind === kind);
  if (of.length === 0) return null;
  const names = [...new Set(of.map((e) => e.fn))].join(', ');
  const first = of[0]!;
  const why = first.kind === 'replaceable' ? '' : first.why; // the first entry's reason: the role's, the same in every entry
  switch (kind) {
    case 'replaceable':
      return {
        reason: `it runs ${names} (a trigger's function, a WHEN condition's, or a default's or constraint's), which Gatehouse's own database role could replace or alter while the write runs (that role owns it, can become its owner, or is a superuser)`,
        hint: `Have an administrator own ${of.length === 1 ? 'the function' : 'these functions'} (ALTER FUNCTION ... OWNER TO a role that Gatehouse's upstream role is not a member of), and connect Gatehouse with a role that is not a superuser`,
        detail: `functions the upstream role could replace: ${names}`,
      };
    case 'by-name':
      return {
        reason: `it runs ${names}, whose body calls functions by name when it runs, and Gatehouse's own database role can define functions a trigger could call by name (it ${why})`,
        hint: 'Revoke CREATE on every schema from Gatehouse\'s upstream role and the roles it can become (REVOKE CREATE ON SCHEMA ... FROM ...), and have an administrator own its functions',
        detail: `functions whose bodies call functions by name: ${names} (the upstream role ${why})`,
      };
    case 'temp-types':
      return {
        reason: `it runs ${names}, whose body resolves names when it runs (or calls a function that does), and Gatehouse's own database role can create temporary types and tables, which such a body finds before the ones it means unless its search_path lists pg_temp (it ${why})`,
        hint: 'Revoke TEMPORARY on the database Gatehouse connects to from PUBLIC and from Gatehouse\'s upstream role and the roles it can become (REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC, ...), then restart Gatehouse, whose sessions keep the temporary objects they made before; or have every function whose body resolves names when it runs set its own search_path ending in pg_temp (ALTER FUNCTION ... SET search_path = <its schemas>, pg_temp; the message names the first that does not)',
        detail: `functions whose bodies resolve names when they run: ${names} (the upstream role ${why})`,
      };
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** The first write under a mask that runs a replaceable function, refused (0A000); null: none. */
export function replaceableRefusal(statements: readonly CheckedStatement[]): GatehouseError | null {
  for (const s of statements) {
    // With the functions of the trigger chain its reviews declare (enforce/trigger-chain.ts; R20b-3).
    const own = s.input?.statement.replaceable_functions;
    const chained = s.triggerReview?.chainedReplaceable;
    // Most statements run none: no list made for them (this runs for every statement).
    if ((own === undefined || own.length === 0) && (chained === undefined || chained.length === 0)) continue;
    const entries = [...new Set([...(own ?? []), ...(chained ?? [])])];
    if (!checked(s)) continue;
    const read = entries.map(readEntry);
    const parts = (['replaceable', 'by-name', 'temp-types'] as const).flatMap((kind) => explain(read, kind) ?? []);
    return new GatehouseError(
      'FEATURE_NOT_SUPPORTED',
      `Gatehouse does not run this write while a mask applies to you: ${parts.map((p) => p.reason).join('; and ')}, so the write could run a definition nobody decided on`,
      {
        decisionId: s.decision.id,
        detail: parts.map((p) => p.detail).join('; '),
        hint: `${parts.map((p) => p.hint).join('; ')}; otherwise this write needs an identity without masks.`,
      },
    );
  }
  return null;
}

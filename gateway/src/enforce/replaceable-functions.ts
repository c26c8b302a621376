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
// refused the same way (pg/by-name-reach.ts; ownrole20b).

import { GatehouseError } from '../errors.ts';
import { checked, type CheckedStatement } from './fresh-catalog.ts';

/** Marks an entry of statement.replaceable_functions that is there because its body calls functions by name. */
const BY_NAME = ' (calls functions by name; Gatehouse\'s role ';

/**
 * The entry for a function a write runs whose body resolves the names it calls when it runs, while
 * Gatehouse's upstream role can define code such a body might reach (`why`, e.g. "can create functions
 * in schema public": pg/by-name-reach.ts).
 */
export function byNameEntry(fn: string, why: string): string {
  return `${fn}${BY_NAME}${why})`;
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
    const byName = entries.filter((e) => e.includes(BY_NAME));
    const replaceable = entries.filter((e) => !e.includes(BY_NAME));
    const names = replaceable.join(', ');
    const callers = byName.map((e) => e.slice(0, e.indexOf(BY_NAME))).join(', ');
    const why = byName.length > 0 ? byName[0]!.slice(byName[0]!.indexOf(BY_NAME) + BY_NAME.length, -1) : '';
    const reasons = [
      ...(replaceable.length > 0 ? [`it runs ${names} (a trigger's function, a WHEN condition's, or a default's or constraint's), which Gatehouse's own database role could replace or alter while the write runs (that role owns it, can become its owner, or is a superuser)`] : []),
      ...(byName.length > 0 ? [`it runs ${callers}, whose body calls functions by name when it runs, and Gatehouse's own database role can define functions a trigger could call by name (it ${why})`] : []),
    ];
    const hints = [
      ...(replaceable.length > 0 ? [`Have an administrator own ${replaceable.length === 1 ? 'the function' : 'these functions'} (ALTER FUNCTION ... OWNER TO a role that Gatehouse's upstream role is not a member of), and connect Gatehouse with a role that is not a superuser`] : []),
      ...(byName.length > 0 ? [`Revoke CREATE on every schema from Gatehouse's upstream role and the roles it can become (REVOKE CREATE ON SCHEMA ... FROM ...), and have an administrator own its functions`] : []),
    ];
    return new GatehouseError(
      'FEATURE_NOT_SUPPORTED',
      `Gatehouse does not run this write while a mask applies to you: ${reasons.join('; and ')}, so the write could run a definition nobody decided on`,
      {
        decisionId: s.decision.id,
        detail: [
          ...(replaceable.length > 0 ? [`functions the upstream role could replace: ${names}`] : []),
          ...(byName.length > 0 ? [`functions whose bodies call functions by name: ${callers} (the upstream role ${why})`] : []),
        ].join('; '),
        hint: `${hints.join('; ')}; otherwise this write needs an identity without masks.`,
      },
    );
  }
  return null;
}

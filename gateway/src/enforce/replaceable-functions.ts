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
// Queries, Parse/Bind/Execute and COPY FROM alike.

import { GatehouseError } from '../errors.ts';
import { checked, type CheckedStatement } from './fresh-catalog.ts';

/** The first write under a mask that runs a replaceable function, refused (0A000); null: none. */
export function replaceableRefusal(statements: readonly CheckedStatement[]): GatehouseError | null {
  for (const s of statements) {
    const replaceable = s.input?.statement.replaceable_functions ?? [];
    if (replaceable.length === 0 || !checked(s)) continue;
    const names = replaceable.join(', ');
    return new GatehouseError(
      'FEATURE_NOT_SUPPORTED',
      `Gatehouse does not run this write while a mask applies to you: it runs ${names} (a trigger's function, a WHEN condition's, or a default's or constraint's), which Gatehouse's own database role could replace or alter while the write runs (that role owns it, can become its owner, or is a superuser), so the write could run a definition nobody decided on`,
      {
        decisionId: s.decision.id,
        detail: `functions the upstream role could replace: ${names}`,
        hint: `Have an administrator own ${replaceable.length === 1 ? 'the function' : 'these functions'} (ALTER FUNCTION ... OWNER TO a role that Gatehouse's upstream role is not a member of), and connect Gatehouse with a role that is not a superuser; otherwise this write needs an identity without masks.`,
      },
    );
  }
  return null;
}

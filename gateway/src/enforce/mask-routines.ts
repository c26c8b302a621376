// Under a mask, the one path the rewrite cannot cover: a routine whose body reads a table itself
// (a SQL or PL function, an operator or a domain check built on one) sees raw values whatever the
// statement's FROM clause says. Such routines are refused while a mask applies; built-in ones
// (pg_catalog, C and internal functions, which only a superuser can create) cannot read tables.

import type { RoutineRef } from '../sql/relation-refs.ts';
import type { RewriteRefusal } from './rewrite-refusal.ts';
import type { RoutineCatalog } from './routine-catalog.ts';

const HINT =
  'Routines you define can read masked tables directly, bypassing the mask, so they do not run under a mask. Call built-in functions only, or ask for the routine to be replaced by a view Gatehouse can mask.';

function display(r: { schema: string | null; name: string }): string {
  return r.schema === null ? r.name : `${r.schema}.${r.name}`;
}

/** Why a masked statement may not call one of `routines` (or a function in field position), or null. */
export function maskRoutineRefusal(routines: readonly RoutineRef[], fieldNames: ReadonlySet<string>, catalog: RoutineCatalog | null): RewriteRefusal | null {
  if (catalog === null) {
    if (routines.length === 0) return null;
    return {
      message: "Gatehouse does not run this statement while a mask applies: the database's routine catalog is not loaded, so the routines it calls cannot be checked",
      hint: 'Try again in a moment; if this persists, the Gatehouse operator should check its connection to the database catalog.',
    };
  }
  for (const r of routines) {
    const verdict = catalog.verdict(r.kind, r);
    if (verdict === 'harmless') continue;
    return {
      message:
        verdict === 'unknown'
          ? `Gatehouse does not run this statement while a mask applies: ${r.kind} ${display(r)} is not one Gatehouse knows yet`
          : `Gatehouse does not run this statement while a mask applies: ${r.kind} ${display(r)} is user-defined and could read masked tables directly`,
      hint: HINT,
    };
  }
  for (const name of fieldNames) {
    // `p.f` and `(x).f` call function f(p) when f is not a column of p.
    if (catalog.verdict('function', { schema: null, name }) !== 'harmful') continue;
    return {
      message: `Gatehouse does not run this statement while a mask applies: ${name} in field position may be the user-defined function ${name}, which could read masked tables directly`,
      hint: `${HINT} If ${name} is a column, write it without the table name.`,
    };
  }
  return null;
}

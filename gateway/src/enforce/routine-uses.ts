// The user-defined operators and types a statement names (`1 === 1`, `x::public.email`): they run
// user functions as a call does (an operator's function, a domain's CHECK, a range's support
// functions), so statement.user_functions lists them, by the name as written (red-team round 12,
// R12-8). The names come with the statement's facts (sql/routine-names.ts, cached with the parse);
// here they are only judged against the routine snapshot.

import type { StatementFacts, WrittenName } from '../sql/facts.ts';
import type { RoutineCatalog } from './routine-catalog.ts';

export function harmfulOperatorsAndTypes(facts: Pick<StatementFacts, 'operators' | 'types'>, routines: RoutineCatalog): string[] {
  const out: string[] = [];
  judge(out, routines, 'operator', facts.operators);
  judge(out, routines, 'type', facts.types);
  return out;
}

// A module function, not a closure made per statement (the compiled bundle names every closure it makes).
function judge(out: string[], routines: RoutineCatalog, kind: 'operator' | 'type', names: readonly WrittenName[]): void {
  if (!routines.anyHarmful(kind)) return;
  for (const n of names) if (routines.verdict(kind, n) === 'harmful') out.push(n.schema === null ? n.name : `${n.schema}.${n.name}`);
}

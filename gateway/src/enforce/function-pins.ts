// The trigger functions a write under a mask relies on, as they were when it was decided (red-team round
// 18b, R18b-3). The decision checks each function's definition (statement.triggers[].function_digest,
// pinned by a review), but PostgreSQL looks the function up only when the trigger fires, and
// CREATE OR REPLACE FUNCTION / ALTER FUNCTION take no lock the lock prefix meets (PostgreSQL 15 updates
// the pg_proc row in place of any lock): a write waiting for a row lock runs whatever body is there by
// then. No lock can be had instead (a row lock on pg_proc needs UPDATE on the catalog: superusers only).
// So a simple Query with such a write gets a check appended (pg/pin-check.ts): in the write's own
// transaction, after it, the pg_proc rows must still be the ones decided on, else the transaction fails
// and nothing the write returned is shown. The pins are made here; the SQL and its answers are pg's.

import { GatehouseError } from '../errors.ts';
import type { DecidedStatement, FunctionPin } from './decided-statement.ts';
import { checked } from './fresh-catalog.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import type { PolicyTrigger } from '../policy/types.ts';

export type { FunctionPin } from './decided-statement.ts';

const SYSTEM_SCHEMAS = ['pg_catalog.', 'information_schema.'];

/**
 * The pins of a simple Query's checked writes (enforce/fresh-catalog.ts: writes under a mask): every
 * user trigger they can fire, with its function's digest. Built-in functions cannot be replaced without
 * a superuser and are left out; a trigger whose relation the snapshot lacks cannot be named and is left
 * out too (the fresh-catalog check read the snapshot again before such a write, so that is rare).
 */
export function functionPinsOf(statements: readonly DecidedStatement[], relations: RelationCatalog | null): FunctionPin[] {
  // COPY ... FROM STDIN: its CopyInResponse must reach the client before the check could answer, so the
  // string's output cannot be held; such strings are refused when they hold a pinned write (pinsBesideCopyIn).
  if (hasCopyIn(statements)) return [];
  return pinsOf(statements, relations);
}

function hasCopyIn(statements: readonly DecidedStatement[]): boolean {
  for (const s of statements) if (s.input?.statement.copy?.direction === 'from') return true;
  return false;
}

function pinsOf(statements: readonly DecidedStatement[], relations: RelationCatalog | null): FunctionPin[] {
  // Runs for every simple Query, most of which fire no trigger: no list or set is made for them.
  let out: FunctionPin[] | null = null;
  let seen: Set<string> | null = null;
  for (const s of statements) {
    const triggers = pinnable(s, relations);
    if (triggers === null) continue;
    for (const t of triggers) {
      if (t.function_digest === undefined || builtIn(t.function)) continue;
      const rel = relations!.get(t.table);
      if (rel === null) continue;
      const key = `${rel.oid}\u0000${t.name}`;
      if ((seen ??= new Set()).has(key)) continue;
      seen.add(key);
      (out ??= []).push({ relation: rel.oid, trigger: t.name, function: t.function, digest: t.function_digest, version: rel.triggerFunctionVersions?.[t.name] ?? null });
    }
  }
  return out ?? [];
}

/** The triggers a statement may be pinned by: those of a checked write (enforce/fresh-catalog.ts) with a snapshot to find them in; null: none. */
function pinnable(s: DecidedStatement, relations: RelationCatalog | null): readonly PolicyTrigger[] | null {
  const triggers = s.input?.statement.triggers;
  return relations === null || triggers === undefined || triggers.length === 0 || !checked(s) ? null : triggers;
}

/** Whether the statement has pins (pinsOf of it alone is not empty), without making them. */
function hasPins(s: DecidedStatement, relations: RelationCatalog | null): boolean {
  const triggers = pinnable(s, relations);
  if (triggers === null) return false;
  for (const t of triggers) if (t.function_digest !== undefined && !builtIn(t.function) && relations!.get(t.table) !== null) return true;
  return false;
}

function builtIn(fn: string): boolean {
  return SYSTEM_SCHEMAS.some((p) => fn.startsWith(p));
}

/**
 * A string with anything after a pinned write: transaction control would commit (or end) the write before
 * the check appended to the string runs (R18b-3); any other statement that fails, or is cancelled, ends the
 * string before the check too, after the write returned what a replaced body may have written (its RETURNING
 * rows, and the failing statement's own error may quote it: red-team round 20a, R20a-1). The write must be
 * the string's last statement: anything else is refused (0A000), nothing of it run. Null: fine.
 */
export function pinsNotLast(statements: readonly DecidedStatement[], relations: RelationCatalog | null, decisionId: string | undefined): GatehouseError | null {
  let first = -1;
  for (let i = 0; i < statements.length && first < 0; i++) if (hasPins(statements[i]!, relations)) first = i;
  if (first < 0 || first === statements.length - 1) return null;
  return new GatehouseError(
    'FEATURE_NOT_SUPPORTED',
    'Gatehouse refused this query string: it has statements after a write that fires a reviewed trigger function, and Gatehouse checks in the write\'s own transaction, after the string\'s last statement, that the function was not replaced while the write ran; a statement after the write that fails, is cancelled or ends the transaction would come before that check, so none of it was run',
    {
      ...(decisionId !== undefined ? { decisionId, detail: `decision ${decisionId}` } : {}),
      hint: 'Send such a write as the last statement of its query string, and what follows it (COMMIT, ROLLBACK, SAVEPOINT, other statements) as query strings of their own.',
    },
  );
}

/**
 * A string with a pinned write and a COPY ... FROM STDIN (before or after it) could not be checked: the
 * client must see the CopyInResponse before the check answers, so the write's output cannot be held
 * (red-team round 19b, R19b-3: such strings ran unchecked). Refused (0A000), nothing of it run. Null: fine.
 */
export function pinsBesideCopyIn(statements: readonly DecidedStatement[], relations: RelationCatalog | null, decisionId: string | undefined): GatehouseError | null {
  if (!hasCopyIn(statements) || pinsOf(statements, relations).length === 0) return null;
  return new GatehouseError(
    'FEATURE_NOT_SUPPORTED',
    'Gatehouse refused this query string: it has a COPY ... FROM STDIN and a write that fires a reviewed trigger function, and Gatehouse checks after such a write, holding its results, that the function was not replaced while it ran, which it cannot do once the COPY has started; so none of it was run',
    {
      ...(decisionId !== undefined ? { decisionId, detail: `decision ${decisionId}` } : {}),
      hint: 'Send the COPY as a query string of its own.',
    },
  );
}

/** The refusal the client sees when the check failed: the write's transaction failed with it, and nothing it returned is shown. */
export function pinChangedRefusal(pins: readonly FunctionPin[], decisionId: string | undefined, serverMessage: string, changed: boolean): GatehouseError {
  const names = [...new Set(pins.map((p) => p.function))].sort().join(', ');
  const what = changed
    ? `a trigger function it fires (${names}) was replaced or altered on the server while the write ran, so the write may have run a definition nobody reviewed`
    : `Gatehouse could not check that the trigger functions it fires (${names}) were not replaced while it ran`;
  return new GatehouseError(
    'CATALOG_STALE',
    `Gatehouse refused this write after it ran: ${what}; its transaction failed and nothing it returned is shown`,
    {
      ...(decisionId !== undefined ? { decisionId } : {}),
      detail: `decision ${decisionId ?? '(none)'}; the check in the write's transaction said: ${serverMessage}`,
      hint: 'Roll back (in a transaction block) and send the write again: it is decided against the definition as it is now.',
    },
  );
}

// The lock prefix (enforce/lock-prefix.ts) for an Execute of the extended protocol. PostgreSQL refuses a
// top-level LOCK TABLE outside a transaction block (25P01), and an unsynced batch's implicit transaction
// is not one; a LOCK run inside PL/pgSQL is not top-level, and its locks last until the end of the
// (implicit or explicit) transaction all the same (checked on PostgreSQL 15). So Gatehouse sends the
// prefix's LOCK statements as a DO block of its own, right ahead of the Execute, under reserved
// statement and portal names; its answers are swallowed, and its 55P03 becomes the same refusal a simple
// Query gets. Sent ahead of the first Parse, Bind or Execute naming relations that waited for the
// statements ahead of it in a pipeline (pg/statement-order.ts): PostgreSQL already locks them at Parse and
// Bind. See docs/data-path.md for what is left to a statement that did not wait.

import { analyzeQuery } from '../sql/parser.ts';
import { lockPrefixFor, type LockPrefix } from './lock-prefix.ts';
import type { RelationCatalog } from './relation-catalog.ts';

/** How many answers the injected Parse, Bind, Execute, Close (portal) and Close (statement) get. */
export const LOCK_AHEAD_ANSWERS = 5;

/**
 * `DO $tag$BEGIN LOCK TABLE ... NOWAIT; END$tag$` for the prefix, with a dollar-quote tag that does not
 * occur in its text (a quoted relation name may hold any characters).
 */
export function lockBlockSql(prefix: LockPrefix): string {
  let tag = 'gatehouse';
  for (let i = 0; prefix.text.includes(`$${tag}$`); i++) tag = `gatehouse${i}`;
  return `DO $${tag}$BEGIN ${prefix.text}END$${tag}$`;
}

/**
 * The error the client gets when the block failed other than on a lock held elsewhere (42501 after a
 * SET ROLE to a role that may not lock the table, 42P01 for a table dropped since the decision): the
 * server's fields, without those that would point into Gatehouse's block (its context, internal query
 * and position).
 */
export function lockAheadErrorFields(fields: Readonly<Record<string, string>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== 'W' && k !== 'q' && k !== 'p' && k !== 'P') kept[k] = v;
  return kept;
}

/** The prefix for the relations `sql` names, as a simple Query of it would get (null: none to lock). */
export function lockPrefixOfSql(sql: string, searchPath: readonly string[], relations: RelationCatalog | null): LockPrefix | null {
  const outcome = analyzeQuery(sql, { searchPath });
  return outcome.ok ? lockPrefixFor(outcome.statements, relations) : null;
}

// The lock prefix (enforce/lock-prefix.ts) for an Execute of the extended protocol. PostgreSQL refuses a
// top-level LOCK TABLE outside a transaction block (25P01), and an unsynced batch's implicit transaction
// is not one; a LOCK run inside PL/pgSQL is not top-level, and its locks last until the end of the
// (implicit or explicit) transaction all the same (checked on PostgreSQL 15). So Gatehouse sends the
// prefix's LOCK statements as a DO block of its own, right ahead of the Execute, under reserved
// statement and portal names; its answers are swallowed, and its 55P03 becomes the same refusal a simple
// Query gets. Sent ahead of the first Parse, Bind or Execute naming relations that waited for the
// statements ahead of it in a pipeline (pg/statement-order.ts): PostgreSQL already locks them at Parse and
// Bind. See docs/data-path.md for what is left to a statement that did not wait.

import { doBlock } from '../sql/do-block.ts';
import { analyzeQuery } from '../sql/parser.ts';
import { lockPrefixFor, type LockPrefix } from './lock-prefix.ts';
import type { RelationCatalog } from './relation-catalog.ts';

/**
 * How long, at most, the DO block of a write released after an approval tries again for locks another
 * transaction holds (40 tries, 50 ms apart: about 2 s). A human approved the write; a transient lock held
 * elsewhere at that moment (an autovacuum's, a short DDL) should not refuse it. Each try is NOWAIT, so it
 * never queues in the server's lock queue (no other session waits behind it) and holds nothing between
 * tries (a failed LOCK's subtransaction is rolled back); past the last try it fails with 55P03 as before.
 */
export const RELEASE_LOCK_TRIES = 40;
export const RELEASE_LOCK_PAUSE_S = 0.05;

/**
 * `DO $tag$BEGIN LOCK TABLE ... NOWAIT; END$tag$` for the prefix, with a dollar-quote tag that does not
 * occur in its text (a quoted relation name may hold any characters). `patient`: the LOCKs are tried
 * again on 55P03 (RELEASE_LOCK_TRIES), for a write released after its approval.
 */
export function lockBlockSql(prefix: LockPrefix, patient = false): string {
  if (!patient) return doBlock(`BEGIN ${prefix.text}END`, 'gatehouse');
  return doBlock(
    `DECLARE tries integer := 0; BEGIN LOOP BEGIN ${prefix.text}EXIT; ` +
      `EXCEPTION WHEN lock_not_available THEN tries := tries + 1; IF tries >= ${RELEASE_LOCK_TRIES} THEN RAISE; END IF; ` +
      `PERFORM pg_catalog.pg_sleep(${RELEASE_LOCK_PAUSE_S}); END; END LOOP; END`,
    'gatehouse',
  );
}

/**
 * The error the client gets when a LOCK Gatehouse sent ahead of a statement (a simple Query's prefix or the
 * DO block) failed other than on a lock held elsewhere: the server's SQLSTATE and message, without the
 * fields that point into Gatehouse's text (context, internal query, positions), with a detail saying it was
 * Gatehouse's LOCK and a hint for the causes known (42501: a role that may not lock, after a SET ROLE or a
 * REVOKE; 42P01: a relation dropped or renamed since the catalog was read). In a failed transaction
 * (25P02) the LOCK fails as the statement would have: its fields are the statement's own, kept as they are.
 */
export function lockFailedFields(fields: Readonly<Record<string, string>>, prefix: LockPrefix): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== 'W' && k !== 'q' && k !== 'p' && k !== 'P') kept[k] = v;
  if (fields['C'] === '25P02') return kept;
  kept['D'] = `Gatehouse locks ${prefix.relations.join(', ')} (LOCK TABLE ... NOWAIT) before the statements that use them run, so that no schema change comes between their decision and their run; that LOCK failed, so nothing of the statement ran.`;
  const hint = LOCK_FAILED_HINTS[fields['C'] ?? ''];
  if (hint !== undefined) kept['H'] = hint;
  return kept;
}

const LOCK_FAILED_HINTS: Readonly<Record<string, string>> = {
  '42501': 'The current role may not lock the table: LOCK TABLE needs a table-level SELECT to read it, or INSERT, UPDATE, DELETE or TRUNCATE to write it. Grant that privilege (or RESET ROLE) and retry.',
  '42P01': 'The relation was dropped or renamed after Gatehouse last read the catalog; retry the statement.',
};

/** The prefix for the relations `sql` names, as a simple Query of it would get (null: none to lock). */
export function lockPrefixOfSql(sql: string, searchPath: readonly string[], relations: RelationCatalog | null): LockPrefix | null {
  const outcome = analyzeQuery(sql, { searchPath });
  return outcome.ok ? lockPrefixFor(outcome.statements, relations) : null;
}

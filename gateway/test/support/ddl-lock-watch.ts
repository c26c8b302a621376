// Waiting on Gatehouse's DDL lock watch (pg/ddl-locks.ts: its connection polls pg_locks under
// application_name gatehouse-catalog:locks), for tests of statements decided while a migration holds a lock.

import type pg from 'pg';

/**
 * Resolves once the watch has finished a poll that started after `since` and the next one has started
 * (so the first one's result was acted on): a statement sent then is decided with what that poll saw.
 * Polled, no duration asserted.
 */
export async function pollsSince(direct: pg.Client, since: Date): Promise<void> {
  const lastStart = async (): Promise<Date | null> =>
    ((await direct.query(`SELECT max(query_start) AS at FROM pg_stat_activity WHERE application_name = 'gatehouse-catalog:locks' AND datname = current_database()`)).rows[0] as { at: Date | null }).at;
  let first: Date | null = null;
  for (let i = 0; i < 400; i++) {
    const at = await lastStart();
    if (at !== null && at > since) {
      if (first === null) first = at;
      else if (at > first) return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the DDL lock watch did not poll');
}

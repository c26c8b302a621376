// R18b-3's race for red-team tests of the pin check (pg/pin-check.ts): a write waits for a row lock
// another transaction holds, a trigger function's body is replaced meanwhile (directly on the server),
// then the row is freed, so the write fires the replaced body after it was decided on the original.

import pg from 'pg';
import { waitFor } from './wait-for.ts';

export interface TriggerRace {
  /** The upstream database (direct, bypassing Gatehouse). */
  url: string;
  /** Run in the holder's transaction: takes the row lock the write will wait for. */
  lockRow: string;
  /** A fragment of the write's text, to see it waiting in pg_stat_activity. */
  writeLike: string;
  /** The CREATE OR REPLACE that goes in while the write waits. */
  replaced: string;
  /** The CREATE OR REPLACE of the original, run at the end whatever happened. */
  original: string;
}

/**
 * Starts `write` (it must send the statement at once and settle with its outcome), replaces the function
 * while it waits for the row, frees the row, runs `whileFiring` (if any) and returns the write's outcome
 * (at once, nothing replaced, when it settles without waiting: refused before it ran).
 */
export async function raceTriggerReplace<T>(race: TriggerRace, write: () => Promise<T>, whileFiring?: (ddl: pg.Client) => Promise<void>): Promise<T> {
  const holder = new pg.Client({ connectionString: race.url });
  const ddl = new pg.Client({ connectionString: race.url });
  try {
    await holder.connect();
    await ddl.connect();
    await holder.query('BEGIN');
    await holder.query(race.lockRow);
    let settled = false;
    const outcome = write().finally(() => void (settled = true));
    // A write refused before it ran never waits: its outcome is returned as it is.
    await waitFor('the write waiting for the row lock (or its outcome)', async () => {
      if (settled) return true;
      const r = await ddl.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND strpos(query, $1) > 0", [race.writeLike]);
      return r.rows.length > 0 ? true : undefined;
    });
    if (settled) return await outcome;
    await ddl.query(race.replaced);
    await holder.query('COMMIT');
    if (whileFiring !== undefined) await whileFiring(ddl);
    return await outcome;
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await ddl.query(race.original).catch(() => undefined);
    await holder.end().catch(() => undefined);
    await ddl.end().catch(() => undefined);
  }
}

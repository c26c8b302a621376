// An attempt that does not wait behind a lock: its outcome, or 'queued' as soon as PostgreSQL shows a
// statement waiting for a lock on the table (decided, forwarded and queued behind a migration, which
// then runs it with the migration's definition). Polled, no duration asserted.

import type pg from 'pg';
import type { Outcome } from './attempt.ts';

export async function outcomeOrQueued(run: () => Promise<Outcome>, direct: pg.Client, table: string): Promise<Outcome> {
  const state: { done: Outcome | null } = { done: null };
  const pending = run().then((o) => (state.done = o));
  for (;;) {
    if (state.done !== null) return state.done;
    const waiting = await direct.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = $1::regclass`, [table]);
    if (state.done !== null) return state.done;
    if ((waiting.rows[0] as { n: number }).n > 0) {
      void pending; // settles once the migration ends
      return { code: 'queued', rows: [], error: null, notices: [] };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

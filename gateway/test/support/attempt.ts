// What a red-team attempt got back: rows or the error, and every notice the client heard while it
// ran (a value can leak through any of them). Shared by the red-team rounds.

import type pg from 'pg';

export interface Outcome {
  code: string | null;
  rows: unknown[];
  error: string | null;
  notices: string[];
}

/** The notices one or more clients hear, as "message detail where" lines. */
export class NoticeLog {
  lines: string[] = [];

  /** Records the client's notices from now on; returns the client. */
  watch(client: pg.Client): pg.Client {
    client.on('notice', (n) => this.lines.push(`${n.message} ${n.detail ?? ''} ${n.where ?? ''}`));
    return client;
  }
}

/** Runs `sql` on `client`; the outcome holds the notices heard meanwhile (and one turn after: a notice may trail its result). */
export async function attempt(log: NoticeLog, client: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome> {
  log.lines = [];
  let o: Outcome;
  try {
    const r = await client.query(sql);
    o = { code: null, rows: r.rows, error: null, notices: [] };
  } catch (e) {
    const err = e as pg.DatabaseError;
    o = { code: err.code ?? 'no-sqlstate', rows: [], error: err.message, notices: [] };
  }
  await new Promise((r) => setImmediate(r));
  return { ...o, notices: [...log.lines] };
}

// The race of red-team finding R15-1, made deterministic, for the tests of Gatehouse's lock prefix
// (enforce/lock-prefix.ts): an agent's query string waits on a row another transaction holds, and a
// migration alters a table the string uses meanwhile. Polled, never timed: no duration is asserted.

import pg from 'pg';
import { pollsSince } from './ddl-lock-watch.ts';

/** Backends of the test's own database (other files may run on the same server). */
export const OURS = `pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`;
/** How many of them wait for a row lock (a transaction id). */
export const ROW_WAITER = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND ${OURS}`;

/** How many backends wait for ACCESS EXCLUSIVE on `table`. */
export function alterWaitingSql(table: string): string {
  return `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${table}'::regclass AND mode = 'AccessExclusiveLock'`;
}

/** Polls `sql` (one row, column n) on `direct` until n > 0 or `stop()`. */
export async function until(direct: pg.Client, sql: string, stop: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (stop()) return;
    if (((await direct.query(sql)).rows[0] as { n: number }).n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never true: ${sql}`);
}

/** Resolves when `done()` holds. */
export async function untilTrue(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1600 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`never true: ${what}`);
}

/**
 * Resolves once Gatehouse's DDL lock watch has started two polls after now: a lock taken and released
 * directly before it (the migration's, the ALTER back to text) is no longer in the relation snapshot the
 * next statement is decided with.
 */
export async function lockWatchSettled(direct: pg.Client): Promise<void> {
  const since = ((await direct.query('SELECT clock_timestamp() AS at')).rows[0] as { at: Date }).at;
  await pollsSince(direct, since);
}

export interface MigrationRaceSetup {
  /** The table the migration alters (text to json), schema-qualified. */
  alter: string;
  /** The table whose row the agent's string waits for first, schema-qualified. */
  warm: string;
  /** A direct connection to the upstream database (as the test's superuser). */
  direct: () => pg.Client;
  /** Where new direct connections go. */
  upstreamUrl: () => string;
  /** Resolves once the agent's statements are decided with a catalog read after the last change. */
  catalogRead: () => Promise<void>;
}

export type MigrationRace = (
  row: number,
  send: () => Promise<unknown>,
  inBlock?: () => Promise<void>,
) => Promise<{ result: unknown; alterWaited: boolean }>;

/**
 * A direct transaction holds row `row` of `warm`; the agent's request (`send`) starts with an UPDATE of
 * that row, so it waits there; then a migration alters `alter` to json. With the string's relations locked
 * from its start (secure), the ALTER waits for the string, which runs text's DISTINCT; without (open), the
 * ALTER is granted at once, the string's SELECT queues behind it and runs json's user operator class at
 * the migration's COMMIT. `inBlock`: ends the agent's open transaction block, when its request runs in one.
 */
export function migrationRace(setup: MigrationRaceSetup): MigrationRace {
  const upstreamClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: setup.upstreamUrl() });
    await c.connect();
    return c;
  };
  return async (row, send, inBlock = async () => undefined) => {
    const direct = setup.direct();
    const holder = await upstreamClient();
    const migration = await upstreamClient();
    migration.on('error', () => undefined);
    const state = { sent: false, altered: false };
    let result: unknown = null;
    let alterWaited = false;
    try {
      await setup.catalogRead();
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${setup.warm} WHERE id = ${row} FOR UPDATE`);
      const pending = send().then((r) => ((state.sent = true), r));
      await until(direct, ROW_WAITER, () => state.sent);
      if (state.sent) throw new Error(`the request did not wait for the row: ${JSON.stringify(await pending)}`);
      await migration.query('BEGIN');
      const altering = migration.query(`ALTER TABLE ${setup.alter} ALTER COLUMN v TYPE json USING v::json`).then(() => void (state.altered = true));
      await until(direct, alterWaitingSql(setup.alter), () => state.altered);
      alterWaited = !state.altered;
      await holder.query('COMMIT'); // the UPDATE goes on; then the string's SELECT
      await untilTrue(() => state.sent || state.altered, 'the string or the migration went on');
      if (!state.sent) {
        await altering;
        await migration.query('COMMIT'); // the SELECT queued behind it goes on, on json
      }
      result = await pending;
      await inBlock(); // ends the agent's block, if any: the migration (waiting for it) goes on
      await altering;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await migration.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await migration.end();
      await direct.query(`ALTER TABLE ${setup.alter} ALTER COLUMN v TYPE text`);
      await lockWatchSettled(direct);
    }
    return { result, alterWaited };
  };
}

/**
 * Resolves once `read` (an agent's read of the migrated table) runs: it is refused (42501, 55000) while
 * Gatehouse still owes a catalog read after the last schema change, and on a loaded machine that can take
 * a while.
 */
export async function untilCatalogRead(read: () => Promise<{ code: string | null }>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await read()).code === null) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Gatehouse did not read the catalog');
}

// Installs (idempotently) what masking at the source needs in one upstream database: the key and
// the keyed functions of db/mask-functions.ts, in one transaction under an advisory lock so that
// concurrent setups of the same database do not race. Used by `gatehouse db setup` and the demo.

import { keyStatement, newMaskKey, setupStatements } from './mask-functions.ts';

/** Any advisory lock key: the setups of one database queue behind each other. */
const SETUP_LOCK = 7_346_101;

export interface SetupOptions {
  /** The role Gatehouse connects upstream as (granted EXECUTE on the functions). */
  grantTo: string;
  /** The key to install (32 random bytes when omitted); an existing key is kept unless `rotate`. */
  key?: Buffer;
  rotate?: boolean;
}

export interface SetupReport {
  /** Whether a key was written now (false: the database already had one, kept). */
  keyWritten: boolean;
}

/** The one method setup needs: node-postgres clients and PGlite both have it. */
export interface SqlRunner {
  query(text: string, values?: unknown[]): Promise<{ rowCount?: number | null; affectedRows?: number }>;
}

/** Runs the setup over `client` (a role that may create roles and schemas, e.g. the database owner). */
export async function setupMaskFunctions(client: SqlRunner, options: SetupOptions): Promise<SetupReport> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    for (const sql of setupStatements(options.grantTo)) await client.query(sql);
    const key = keyStatement(options.key ?? newMaskKey(), options.rotate === true);
    const res = await client.query(key.text, key.values);
    await client.query('COMMIT');
    return { keyWritten: (res.rowCount ?? res.affectedRows ?? 0) > 0 };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

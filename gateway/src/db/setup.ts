// Installs (idempotently) what masking at the source needs in one upstream database: the key and
// the keyed functions of db/mask-functions.ts, in one transaction under an advisory lock so that
// concurrent setups of the same database do not race. The digest and hash are the C extension
// gatehouse_mask when the server has it and the setup role may create it, PL/pgSQL otherwise
// (same outputs); an older version of the extension in the database is updated (1.1 adds the C
// last4). Used by `gatehouse db setup`, the demo and the bench.

import {
  MASK_EXTENSION,
  type MaskImplementation,
  functionStatements,
  keyStatement,
  keyTableStatements,
  newMaskKey,
} from './mask-functions.ts';

/** Any advisory lock key: the setups of one database queue behind each other. */
const SETUP_LOCK = 7_346_101;

export interface SetupOptions {
  /** The role Gatehouse connects upstream as (granted EXECUTE on the functions). */
  grantTo: string;
  /** The key to install (32 random bytes when omitted); an existing key is kept unless `rotate`. */
  key?: Buffer;
  rotate?: boolean;
  /**
   * `auto` (default): C when available, else PL/pgSQL; `c`: fail when the extension cannot be
   * used; `plpgsql`: the PL/pgSQL functions (drops the extension if this database has it).
   */
  implementation?: MaskImplementation | 'auto';
}

/** Which implementation is active after setup, and why PL/pgSQL when it is. */
export type ImplementationReport =
  /** `notUpdated`: why an older version of the extension in this database stayed (ALTER EXTENSION UPDATE failed). */
  | { kind: 'c'; version: string; notUpdated?: string }
  | { kind: 'plpgsql'; why: string };

export interface SetupReport {
  /** Whether a key was written now (false: the database already had one, kept). */
  keyWritten: boolean;
  implementation: ImplementationReport;
}

/** The one method setup needs: node-postgres clients and PGlite both have it. */
export interface SqlRunner {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount?: number | null; affectedRows?: number }>;
}

/** Raised when `implementation: 'c'` was asked for and the extension cannot be used. */
export class MaskExtensionUnavailable extends Error {
  readonly code = 'GH_MASK_EXTENSION_UNAVAILABLE';
  readonly sqlstate = '58P01';
}

/** Runs the setup over `client` (a role that may create roles and schemas, e.g. the database owner). */
export async function setupMaskFunctions(client: SqlRunner, options: SetupOptions): Promise<SetupReport> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    for (const sql of keyTableStatements()) await client.query(sql);
    const implementation = await chooseImplementation(client, options.implementation ?? 'auto');
    const cLast4 = implementation.kind === 'c' && (await hasFunction(client, 'gatehouse.gatehouse_mask_last4(text)'));
    for (const sql of functionStatements(options.grantTo, implementation.kind, cLast4)) await client.query(sql);
    const key = keyStatement(options.key ?? newMaskKey(), options.rotate === true);
    const res = await client.query(key.text, key.values);
    await client.query('COMMIT');
    return { keyWritten: (res.rowCount ?? res.affectedRows ?? 0) > 0, implementation };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

const ENSURE = 'scripts/ensure-mask-extension.sh';

async function hasFunction(client: SqlRunner, signature: string): Promise<boolean> {
  const row = (await client.query('SELECT pg_catalog.to_regprocedure($1) IS NOT NULL AS present', [signature])).rows[0] as { present: boolean };
  return row.present;
}

/**
 * A database set up with an older version of the extension than the server has (e.g. 1.0, before
 * the C last4) is updated (ALTER EXTENSION ... UPDATE, which needs a superuser, as CREATE did).
 * Refused or failed, the installed version stays and keeps working: its functions are in the new
 * library too, and Gatehouse uses only what the database has. Returns the version now installed.
 */
async function updateExtension(client: SqlRunner, installed: string, available: string | null): Promise<ImplementationReport> {
  if (available === null || available === installed) return { kind: 'c', version: installed };
  await client.query('SAVEPOINT gatehouse_mask_update');
  try {
    await client.query(`ALTER EXTENSION ${MASK_EXTENSION} UPDATE`);
    await client.query('RELEASE SAVEPOINT gatehouse_mask_update');
    return { kind: 'c', version: available };
  } catch (e) {
    await client.query('ROLLBACK TO SAVEPOINT gatehouse_mask_update');
    return { kind: 'c', version: installed, notUpdated: `ALTER EXTENSION ${MASK_EXTENSION} UPDATE to ${available} failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Inside setup's transaction: creates the extension when it is wanted and possible. */
async function chooseImplementation(client: SqlRunner, wanted: MaskImplementation | 'auto'): Promise<ImplementationReport> {
  const row = (
    await client.query(
      `SELECT (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = $1) AS installed,
              (SELECT a.default_version FROM pg_catalog.pg_available_extensions a WHERE a.name = $1) AS available`,
      [MASK_EXTENSION],
    )
  ).rows[0] as { installed: string | null; available: string | null };
  if (wanted === 'plpgsql') {
    if (row.installed !== null) {
      // The trigger is not a member of the extension, only dependent on its function: dropped
      // by name first, so that no CASCADE can reach anything else that uses the functions.
      await client.query('DROP TRIGGER IF EXISTS gatehouse_mask_key_changed ON gatehouse.gatehouse_mask_key');
      await client.query(`DROP EXTENSION ${MASK_EXTENSION}`);
    }
    return { kind: 'plpgsql', why: 'asked for' };
  }
  if (row.installed !== null) return updateExtension(client, row.installed, row.available);
  if (row.available === null) {
    const why = `extension ${MASK_EXTENSION} is not installed on the server (${ENSURE}, docs/data-path.md)`;
    if (wanted === 'c') throw new MaskExtensionUnavailable(why);
    return { kind: 'plpgsql', why };
  }
  // Creating it needs a superuser (C functions); a refusal, or a library the server cannot load,
  // leaves the PL/pgSQL functions (unless C was asked for).
  await client.query('SAVEPOINT gatehouse_mask_extension');
  try {
    await client.query(`CREATE EXTENSION ${MASK_EXTENSION}`);
    await client.query('RELEASE SAVEPOINT gatehouse_mask_extension');
    return { kind: 'c', version: row.available };
  } catch (e) {
    await client.query('ROLLBACK TO SAVEPOINT gatehouse_mask_extension');
    const why = `CREATE EXTENSION ${MASK_EXTENSION} failed: ${e instanceof Error ? e.message : String(e)}`;
    if (wanted === 'c') throw new MaskExtensionUnavailable(why);
    return { kind: 'plpgsql', why };
  }
}

// What `gatehouse db setup` installs so that schema changes made directly on the server (not through
// any Gatehouse) reach every Gatehouse instance at once instead of at its next 30 s catalog read: an
// event trigger that sends a notification on the channel the instances listen on
// (pg/catalog-peers.ts). PostgreSQL delivers it when the changing transaction commits. Creating an
// event trigger needs a superuser: without one this step is skipped and said so.

import { CATALOG_CHANNEL } from '../pg/catalog-peers.ts';

/** The one method this needs (a node-postgres client). */
export interface RowsRunner {
  query(text: string): Promise<{ rows: unknown[] }>;
}

export const CATALOG_NOTIFY_FUNCTION = 'gatehouse.gatehouse_catalog_notify()';
export const CATALOG_NOTIFY_TRIGGER = 'gatehouse_catalog_notify';

/** The payload of the event trigger's notifications (an instance's own are its random id). */
export const DIRECT_CHANGE_PAYLOAD = 'ddl';

/** Statements that (re)install the event trigger; the schema `gatehouse` and its owner exist (db/mask-functions.ts). */
export function catalogNotifyStatements(owner: string): string[] {
  return [
    `CREATE OR REPLACE FUNCTION ${CATALOG_NOTIFY_FUNCTION} RETURNS event_trigger LANGUAGE plpgsql
       AS $gh$ BEGIN PERFORM pg_catalog.pg_notify('${CATALOG_CHANNEL}', '${DIRECT_CHANGE_PAYLOAD}'); END $gh$`,
    `ALTER FUNCTION ${CATALOG_NOTIFY_FUNCTION} OWNER TO ${owner}`,
    `REVOKE ALL ON FUNCTION ${CATALOG_NOTIFY_FUNCTION} FROM PUBLIC`,
    `DROP EVENT TRIGGER IF EXISTS ${CATALOG_NOTIFY_TRIGGER}`,
    // ENABLE ALWAYS: also in sessions with session_replication_role = replica.
    `CREATE EVENT TRIGGER ${CATALOG_NOTIFY_TRIGGER} ON ddl_command_end EXECUTE FUNCTION ${CATALOG_NOTIFY_FUNCTION}`,
    `ALTER EVENT TRIGGER ${CATALOG_NOTIFY_TRIGGER} ENABLE ALWAYS`,
  ];
}

export type CatalogNotifyOutcome = 'installed' | 'not-superuser';

/** Installs the event trigger when `client` is a superuser, in one transaction. */
export async function installCatalogNotify(client: RowsRunner, owner: string): Promise<CatalogNotifyOutcome> {
  const r = await client.query('SELECT rolsuper AS s FROM pg_catalog.pg_roles WHERE rolname = current_user');
  if ((r.rows[0] as { s?: boolean } | undefined)?.s !== true) return 'not-superuser';
  await client.query('BEGIN');
  try {
    for (const sql of catalogNotifyStatements(owner)) await client.query(sql);
    await client.query('COMMIT');
    return 'installed';
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

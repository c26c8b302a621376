// `gatehouse db setup`: installs in an upstream database what masking at the source needs (the
// masking key and the keyed functions, db/mask-functions.ts), and checks Gatehouse's role.

import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { setupMaskFunctions } from '../db/setup.ts';
import { installCatalogNotify } from '../db/catalog-notify.ts';
import { MASK_OWNER_ROLE } from '../db/mask-functions.ts';
import { UsageError, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse db setup [--url <admin-url>] [options]

Installs what masking at the source needs in one database, idempotently:
  - schema "gatehouse", owned by the NOLOGIN role gatehouse_mask_owner (created if missing);
  - the masking key (32 random bytes, or --key-file), readable by that role only;
  - the SECURITY DEFINER functions that compute the hash and fake masks with it, executable by
    Gatehouse's upstream role only (--grant-to). The digest and hash are the C extension
    gatehouse_mask when the server has it (scripts/ensure-mask-extension.sh installs it on a
    self-managed server; creating it needs a superuser), else PL/pgSQL: same hashes, slower.
    A database set up with an older version of the extension is updated (ALTER EXTENSION
    gatehouse_mask UPDATE; 1.1 adds last4 in C). The command says which implementation is active;
  - when run as a superuser, the event trigger gatehouse_catalog_notify: a schema change made
    directly on the server then reaches every Gatehouse instance at once (NOTIFY), not at its
    next 30 s catalog read. Without a superuser this step is skipped, and said so.
Run it once per upstream database, as a role that may create roles and schemas (the database
owner or an administrator), not as Gatehouse's own role. An existing key is kept unless
--rotate-key: keyed hashes stay the same across sessions, instances and restarts.
Gatehouse's upstream role must NOT be a superuser: a superuser could read the key. This command
warns when it is.

Options:
  --url <url>          libpq URL of the database, as an administrator (default: libpq's
                       environment variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)
  --grant-to <role>    the role Gatehouse connects upstream as (default: the user of --url)
  --key-file <file>    the key to install, hex or base64 (at least 32 bytes): the same key in
                       several databases gives the same hashes in all of them
  --rotate-key         replace an existing key (every hash changes)
  --mask-impl <impl>   auto (default: C when possible), c (fail without it) or plpgsql
  -h, --help           show this help

Example:
  gatehouse db setup --url postgresql://admin@db.internal/clinic --grant-to gatehouse
`;

async function readKey(file: string): Promise<Buffer> {
  const text = (await readFile(file, 'utf8')).trim();
  const key = /^[0-9a-fA-F]+$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 32) throw new UsageError(`--key-file ${file} holds ${key.length} bytes; at least 32 are needed`);
  return key;
}

export const dbCommand: CliCommand = {
  name: 'db',
  summary: 'Install the masking key and functions in an upstream database (db setup)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    if (sub !== 'setup') throw new UsageError(sub === undefined ? 'a subcommand is required (setup)' : `unknown subcommand '${sub}'`);
    const values = parseOptions(rest, {
      url: { type: 'string' },
      'grant-to': { type: 'string' },
      'key-file': { type: 'string' },
      'rotate-key': { type: 'boolean' },
      'mask-impl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const impl = values['mask-impl'] ?? 'auto';
    if (impl !== 'auto' && impl !== 'c' && impl !== 'plpgsql') throw new UsageError(`--mask-impl must be auto, c or plpgsql, not '${impl}'`);
    const client = new pg.Client({ ...(values.url === undefined ? {} : { connectionString: values.url }), application_name: 'gatehouse-db-setup' });
    await client.connect();
    try {
      const grantTo = values['grant-to'] ?? (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
      const role = await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1', [grantTo]);
      if (role.rowCount === 0) throw new UsageError(`role "${grantTo}" does not exist; create Gatehouse's upstream role first (docs/quickstart.md)`);
      const key = values['key-file'] === undefined ? undefined : await readKey(values['key-file']);
      const report = await setupMaskFunctions(client, { grantTo, ...(key ? { key } : {}), rotate: values['rotate-key'] === true, implementation: impl });
      const db = (await client.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
      process.stdout.write(
        `gatehouse db setup: database "${db}" ready for masks at the source; ${report.keyWritten ? 'a new key was installed' : 'its existing key was kept'}; EXECUTE granted to "${grantTo}"\n`,
      );
      const active = report.implementation;
      switch (active.kind) {
        case 'c':
          process.stdout.write(`gatehouse db setup: keyed masks computed by the C extension gatehouse_mask ${active.version}\n`);
          if (active.notUpdated !== undefined) process.stdout.write(`gatehouse db setup: warning: kept gatehouse_mask ${active.version} (${active.notUpdated}); last4 stays an SQL expression\n`);
          break;
        case 'plpgsql':
          process.stdout.write(`gatehouse db setup: keyed masks computed by PL/pgSQL (${active.why})\n`);
          break;
        default: {
          const never: never = active;
          throw new Error(`unknown implementation ${String(never)}`);
        }
      }
      const notify = await installCatalogNotify(client, MASK_OWNER_ROLE);
      process.stdout.write(
        notify === 'installed'
          ? `gatehouse db setup: event trigger gatehouse_catalog_notify installed: schema changes made directly on the server reach Gatehouse at once\n`
          : `gatehouse db setup: not a superuser, so no event trigger was installed: schema changes made directly on the server (not through Gatehouse) reach Gatehouse at its next catalog read, within 30 s (docs/data-path.md, "Catalog snapshots")\n`,
      );
      if (role.rows[0]!.rolsuper) {
        process.stderr.write(
          `WARNING: role "${grantTo}" is a superuser. A superuser can read the masking key and bypass masks in ways Gatehouse cannot see; connect Gatehouse with a role that is not a superuser (docs/data-path.md, "Where the hash key lives").\n`,
        );
      }
      return 0;
    } finally {
      await client.end().catch(() => undefined);
    }
  },
};

// `gatehouse audit init-db`: creates the audit table (sink postgres) and, with --grant, lets a role
// write it (SELECT and INSERT, never UPDATE or DELETE).

import pg from 'pg';
import { auditGrants, auditTable, auditTableDdl } from '../audit/postgres-table.ts';
import { UsageError, parseOptions } from './args.ts';
import { postgresTableOption } from './audit-source.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit init-db --postgres <url> [--postgres-table <schema.table>] [--grant <role>] [--print]

Creates the audit table that sink postgres writes (docs/audit.md): one row per chained record,
keyed by (instance, seq), UPDATE, DELETE and TRUNCATE revoked from PUBLIC. Run it as the
table's owner (not as the gateway's audit role). With --grant, lets <role> write the log:
USAGE on the schema, SELECT and INSERT on the table, nothing more. Safe to run again.

Options:
  --postgres <url>  the database (libpq URL) of the owner who creates the table
  --postgres-table <t>
                    schema.table (default gatehouse.audit_log); --table is accepted too
  --grant <role>    the gateway's audit role
  --print           print the SQL instead of running it
  -h, --help        show this help

Example:
  gatehouse audit init-db --postgres postgresql://postgres@db/audit --grant gatehouse_audit
`;

export const auditInitDbCommand: CliCommand = {
  name: 'init-db',
  summary: 'Create the PostgreSQL audit table (sink postgres) and grant a role INSERT on it',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      postgres: { type: 'string' },
      'postgres-table': { type: 'string' },
      table: { type: 'string' }, // the earlier spelling of --postgres-table
      grant: { type: 'string' },
      print: { type: 'boolean', default: false },
    });
    let table;
    try {
      table = auditTable(postgresTableOption(values));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const sql = [...auditTableDdl(table), ...(values.grant === undefined ? [] : auditGrants(table, values.grant))];
    if (values.print) {
      process.stdout.write(`${sql.map((s) => `${s.replace(/\n\s+/g, '\n  ')};`).join('\n')}\n`);
      return 0;
    }
    if (values.postgres === undefined) throw new UsageError('--postgres <url> is required (or --print)');
    const client = new pg.Client({ connectionString: values.postgres, application_name: 'gatehouse:audit-init-db' });
    try {
      await client.connect();
      await client.query('BEGIN');
      for (const s of sql) await client.query(s);
      await client.query('COMMIT');
    } catch (e) {
      const err = e as { code?: string; message?: string };
      process.stderr.write(`gatehouse audit init-db: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
      return 1;
    } finally {
      await client.end().catch(() => undefined);
    }
    process.stdout.write(`audit table ${table.schema}.${table.name} ready${values.grant === undefined ? '' : `; ${values.grant} may SELECT and INSERT`}\n`);
    return 0;
  },
};

// `gatehouse audit query`: which statements did who run on what, as a table, CSV, NDJSON or OCSF.

import { csvHeader, csvRow, formatTable, ndjsonRow, ocsfEvent, QUERY_FORMATS, type QueryFormat } from '../audit/query-format.ts';
import { queryAuditRecords, type AccessFilter, type AccessRow } from '../audit/query.ts';
import { DECISION_ACTIONS, type DecisionAction } from '../policy/types.ts';
import { AUDIT_TABLE_OPTIONS, parseOptionsAndPositionals, TIME_RANGE_OPTIONS, timeOption, UsageError } from './args.ts';
import { auditSourceOf, readingSource } from './audit-source.ts';
import type { CliCommand } from './command.ts';
import { version } from './version.ts';

const HELP = `Usage: gatehouse audit query [filters] [--format table|csv|ndjson|ocsf] FILE...
       gatehouse audit query [filters] [--format ...] --postgres <url> [--postgres-table <t>] [--instance <id>]...

Lists the statements recorded in audit log files (or in the audit table of sink postgres) that
match every filter given, oldest first, each with its decision, its outcome (ok and rows, error
or refused with the SQLSTATE, aborted) and, for statements held for approval, how the request
ended. Give rotated files in any order; the records of several instances in the audit table are
merged in time order. Statement text is shown as recorded: literals replaced by $n.

Filters (repeat one to accept any of its values; different filters must all match):
  --identity <s>   the identity's subject or name
  --group <g>      a group of the identity
  --table <t>      a table read or written: schema.table, or table in any schema
  --column <c>     a column used: table.column, schema.table.column or column
  --decision <d>   allow, mask, approve or deny (comma-separated values accepted)
  --commit <rev>   the policy revision: a commit or a prefix of at least 4 hex digits
  --session <id>   a session id
  --since <time>   at or after: an ISO 8601 date or time, or a duration ago (30m, 24h, 7d)
  --until <time>   before: as --since

Source (instead of FILEs):
  --postgres <url>        the database holding the audit table (a libpq URL; reading needs SELECT)
  --postgres-table <t>    the audit table, schema.table (default gatehouse.audit_log)
  --instance <id>         only this instance's records (repeatable; default: every instance)

Output:
  --format <f>     table (default), csv, ndjson (one JSON object per statement) or ocsf
                   (OCSF 1.1.0 Datastore Activity events, class 6005, one per line)
  --limit <n>      stop after n statements
  -h, --help       show this help

Exit codes:
  0  at least one statement matched
  1  none matched
  2  usage error (bad arguments, unreadable file or audit table)

Examples:
  gatehouse audit query --identity ci-agent --table clinical.patients --since 7d audit.ndjson*
  gatehouse audit query --column patients.ssn --decision mask,approve --format csv audit.ndjson > ssn.csv
  gatehouse audit query --since 2026-12-01 --format ocsf /var/log/gatehouse/audit.ndjson* | siem-forwarder
  gatehouse audit query --since 24h --decision deny --postgres postgresql://auditor@db/audit
`;

function decisions(values: string[]): DecisionAction[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '').map((v) => {
    if (!(DECISION_ACTIONS as readonly string[]).includes(v)) throw new UsageError(`--decision ${JSON.stringify(v)}: expected one of ${DECISION_ACTIONS.join(', ')}`);
    return v as DecisionAction;
  });
}

function revisions(values: string[]): string[] {
  for (const v of values) {
    if (!/^[0-9a-f]{4,64}$/i.test(v) && !v.startsWith('dir:')) throw new UsageError(`--commit ${JSON.stringify(v)}: expected a commit or a prefix of at least 4 hex digits (or a dir:... revision)`);
  }
  return values;
}

/**
 * The reader of standard output may go away (| head): the query then stops quietly, as other tools
 * do, instead of dying of an unhandled EPIPE. Watched for the rest of the process (a write still
 * queued when the query ends may fail later).
 */
let stdoutGone = false;
let watchingStdout = false;
function watchStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  process.stdout.on('error', () => {
    stdoutGone = true;
  });
}

/** Writes rows as they come (csv, ndjson, ocsf) or collects them for the aligned table. */
async function print(rows: AsyncIterable<AccessRow>, format: QueryFormat, limit: number): Promise<number> {
  let count = 0;
  const table: AccessRow[] = [];
  const out = process.stdout;
  watchStdout();
  /** Writes, waiting while the reader is behind (a large log piped to a slow reader stays bounded). */
  const write = async (text: string): Promise<void> => {
    if (stdoutGone || out.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
      out.on('error', done);
    });
  };
  if (format === 'csv') await write(csvHeader());
  const productVersion = version();
  for await (const row of rows) {
    if (count >= limit || stdoutGone) break;
    count++;
    switch (format) {
      case 'table':
        table.push(row);
        break;
      case 'csv':
        await write(csvRow(row));
        break;
      case 'ndjson':
        await write(ndjsonRow(row));
        break;
      case 'ocsf':
        await write(`${JSON.stringify(ocsfEvent(row, productVersion))}\n`);
        break;
    }
  }
  if (format === 'table') {
    await write(count === 0 ? 'No statement matched.\n' : formatTable(table));
    if (count > 0) await write(`${count} statement${count === 1 ? '' : 's'}\n`);
  }
  return count;
}

export const auditQueryCommand: CliCommand = {
  name: 'query',
  summary: 'List recorded statements by identity, table, column, decision, commit and time',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const parsed = parseOptionsAndPositionals(argv, {
      identity: { type: 'string', multiple: true, default: [] },
      group: { type: 'string', multiple: true, default: [] },
      table: { type: 'string', multiple: true, default: [] },
      column: { type: 'string', multiple: true, default: [] },
      decision: { type: 'string', multiple: true, default: [] },
      commit: { type: 'string', multiple: true, default: [] },
      session: { type: 'string', multiple: true, default: [] },
      ...TIME_RANGE_OPTIONS,
      format: { type: 'string', default: 'table' },
      limit: { type: 'string' },
      ...AUDIT_TABLE_OPTIONS,
    });
    const v = parsed.values;
    const format = v.format as QueryFormat;
    if (!QUERY_FORMATS.includes(format)) throw new UsageError(`--format ${JSON.stringify(v.format)}: expected one of ${QUERY_FORMATS.join(', ')}`);
    let limit = Number.POSITIVE_INFINITY;
    if (v.limit !== undefined) {
      limit = Number(v.limit);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit ${JSON.stringify(v.limit)}: expected a positive whole number`);
    }
    const source = auditSourceOf(v, parsed.positionals);
    const filter: AccessFilter = {
      identities: v.identity,
      groups: v.group,
      tables: v.table,
      columns: v.column,
      decisions: decisions(v.decision),
      revisions: revisions(v.commit),
      sessions: v.session,
      since: timeOption('since', v.since),
      until: timeOption('until', v.until),
    };
    const onSkipped = (at: string, why: string): void => {
      process.stderr.write(`${at}: skipped: ${why}\n`);
    };
    const count = await readingSource(() => print(queryAuditRecords(source, filter, { onSkipped }), format, limit));
    return count > 0 ? 0 : 1;
  },
};

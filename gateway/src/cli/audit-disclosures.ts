// `gatehouse audit disclosures`: every recorded access to one data subject's rows (a patient's
// accounting of disclosures), from the subject hashes in outcome records.

import { disclosuresIn, type Disclosure, type DisclosureStats } from '../audit/disclosures.ts';
import { DISCLOSURE_FORMATS, disclosureCsvHeader, disclosureCsvRow, disclosureNdjson, disclosureTable, type DisclosureFormat } from '../audit/disclosures-format.ts';
import { readSubjectKey, subjectHasher } from '../audit/subjects.ts';
import { AUDIT_TABLE_OPTIONS, parseOptionsAndPositionals, TIME_RANGE_OPTIONS, timeOption, UsageError } from './args.ts';
import { auditSourceOf, readingSource } from './audit-source.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit disclosures --subject VALUE --key FILE [--since T] [--until T] [--format table|csv|ndjson] FILE...
       gatehouse audit disclosures --subject VALUE --key FILE [...] --postgres <url> [--postgres-table <t>] [--instance <id>]...

Lists every recorded access to one data subject's rows (a patient's accounting of disclosures,
HIPAA 164.528): statements whose outcome record lists the subject among the rows returned or
written of a table marked as holding PHI (audit.phi_tables), oldest first. For each: the date,
who (subject, issuer, name), the PHI tables and the columns used of them (and which were masked),
the decision and its approval, the outcome, the policy's reason, the requester's purpose when an
approval request recorded one, and the policy commit. With --postgres, the audit table of sink
postgres is read instead of FILEs: the accesses made through every instance, in time order.

VALUE is the subject as PostgreSQL prints it (the text form of the subject column, e.g. 1042 for
patients.id). It is hashed with the key (HMAC-SHA256) as the gateway hashed it; the log holds only
hashes, never the value.

Statements that read or wrote a PHI table but whose subjects are unknown (aggregates, subqueries,
COPY, cursors, ...; docs/audit.md) or whose list was cut at audit.subjects_max cannot say whether
they touched this subject: they are counted on standard error, and listed with --include-possible
(match "possible", with why).

Options:
  --subject <v>        the subject's value (required)
  --key <file>         the subject key file (audit.subject_key) (required)
  --since <time>       at or after: an ISO 8601 date or time, or a duration ago (30m, 24h, 7d)
  --until <time>       before: as --since
  --include-possible   also list statements that may have touched the subject
  --format <f>         table (default), csv or ndjson
  --postgres <url>     read the audit table in this database (a libpq URL; reading needs SELECT)
  --postgres-table <t> the audit table, schema.table (default gatehouse.audit_log)
  --instance <id>      only this instance's records (repeatable; default: every instance)
  -h, --help           show this help

Exit codes:
  0  at least one access listed
  1  none
  2  usage error (bad arguments, unreadable file, key or audit table)

Examples:
  gatehouse audit disclosures --subject 1042 --key /etc/gatehouse/subject.key /var/log/gatehouse/audit.ndjson*
  gatehouse audit disclosures --subject 1042 --key subject.key --since 2020-12-01 --format csv audit.ndjson* > patient-1042.csv
  gatehouse audit disclosures --subject 1042 --key subject.key --postgres postgresql://auditor@db/audit
`;

async function print(rows: AsyncIterable<Disclosure>, format: DisclosureFormat): Promise<number> {
  const out = process.stdout;
  const table: Disclosure[] = [];
  let count = 0;
  if (format === 'csv') out.write(disclosureCsvHeader());
  for await (const d of rows) {
    count++;
    switch (format) {
      case 'table':
        table.push(d);
        break;
      case 'csv':
        out.write(disclosureCsvRow(d));
        break;
      case 'ndjson':
        out.write(disclosureNdjson(d));
        break;
    }
  }
  if (format === 'table') out.write(count === 0 ? 'No access to this subject is recorded.\n' : `${disclosureTable(table)}${count} access${count === 1 ? '' : 'es'}\n`);
  return count;
}

export const auditDisclosuresCommand: CliCommand = {
  name: 'disclosures',
  summary: "List every recorded access to one data subject's rows (accounting of disclosures)",
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const parsed = parseOptionsAndPositionals(argv, {
      subject: { type: 'string' },
      key: { type: 'string' },
      ...TIME_RANGE_OPTIONS,
      'include-possible': { type: 'boolean', default: false },
      format: { type: 'string', default: 'table' },
      ...AUDIT_TABLE_OPTIONS,
    });
    const v = parsed.values;
    if (v.subject === undefined) throw new UsageError('--subject VALUE is required');
    if (v.key === undefined) throw new UsageError('--key FILE is required (the audit.subject_key the gateway hashed subjects with)');
    const format = v.format as DisclosureFormat;
    if (!DISCLOSURE_FORMATS.includes(format)) throw new UsageError(`--format ${JSON.stringify(v.format)}: expected one of ${DISCLOSURE_FORMATS.join(', ')}`);
    let key: Buffer;
    try {
      key = readSubjectKey(v.key);
    } catch (e) {
      throw new UsageError(`cannot use the subject key: ${(e as Error).message}`);
    }
    const source = auditSourceOf(v, parsed.positionals);
    const stats: DisclosureStats = { possible: 0 };
    const filter = {
      since: timeOption('since', v.since),
      until: timeOption('until', v.until),
      includePossible: v['include-possible'] === true,
    };
    const onSkipped = (at: string, why: string): void => {
      process.stderr.write(`${at}: skipped: ${why}\n`);
    };
    const subject = v.subject;
    const count = await readingSource(() => print(disclosuresIn(source, subject, subjectHasher(key), filter, stats, { onSkipped }), format));
    if (stats.possible > 0 && !filter.includePossible) {
      process.stderr.write(`${stats.possible} more statement${stats.possible === 1 ? '' : 's'} read or wrote a PHI table without a subject list that can say whether this subject was among its rows (--include-possible lists them)\n`);
    }
    return count > 0 ? 0 : 1;
  },
};

// `gatehouse audit verify`: checks audit log files offline (chain, checkpoints, completeness).

import { readFileSync } from 'node:fs';
import { loadCheckpointKey, type CheckpointKey } from '../audit/checkpoint.ts';
import { auditLogFilesNoting } from '../audit/log-files.ts';
import { formatReport, verifyAuditFiles } from '../audit/verify.ts';
import { formatTableReport, verifyAuditTable } from '../audit/verify-postgres.ts';
import { AUDIT_TABLE_OPTIONS, parseOptionsAndPositionals, UsageError } from './args.ts';
import { postgresTableOption } from './audit-source.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit verify --key <public key> [--json] FILE...
       gatehouse audit verify --key <public key> --postgres <url> [--instance <id>]... [--postgres-table <schema.table>] [--json]

Checks audit log files offline: every record's link in the hash chain across the files (give
rotated files in any order), every checkpoint's Ed25519 signature against the trusted public
key, the chain of checkpoints, and which records no signature covers yet. Each problem is
reported with its file:line: an edited, deleted, inserted or reordered record, records
rewritten after a checkpoint signed them, a missing checkpoint (gap), a checkpoint signed by
another key, and records after the last checkpoint (unprotected: a cut tail looks the same).
With --postgres, the audit table (sink postgres) is checked instead: every instance's chain
(or those named by --instance), each as one log, findings located as table[instance]:seq.

Options:
  --key <file>  the trusted public key: SPKI PEM (audit-signing.pub.pem), a JWK, or the
                JWK set served at the admin listener's /audit/key. Without it only the
                chain is checked, and the result is at best "incomplete".
  --postgres <url>
                the database holding the audit table (a libpq URL; reading needs SELECT)
  --instance <id>
                only this instance's chain (repeatable; default: every instance in the table)
  --postgres-table <t>
                the audit table, schema.table (default gatehouse.audit_log); --table is
                accepted too (its earlier spelling)
  --json        print the report as JSON
  -h, --help    show this help

Exit codes:
  0  intact: every record is chained and covered by a valid checkpoint
  1  tampered: evidence of alteration (see the findings)
  2  usage error (bad arguments, unreadable file or key)
  3  incomplete: no alteration found, but some records are not covered by a valid
     signature (records after the last checkpoint, a log without any checkpoint, files
     that begin after seq 1, no --key). The last line then reads "signed through seq N;
     M records after it are chained but not signed".

Examples:
  gatehouse audit verify --key audit-signing.pub.pem /var/log/gatehouse/audit.ndjson*
  gatehouse audit verify --key audit-signing.pub.pem --postgres postgresql://auditor@db/audit
`;

export const auditVerifyCommand: CliCommand = {
  name: 'verify',
  summary: 'Check audit log files (or the audit table) offline: chain, signed checkpoints, completeness',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const parsed = parseOptionsAndPositionals(argv, {
      key: { type: 'string' },
      json: { type: 'boolean', default: false },
      ...AUDIT_TABLE_OPTIONS,
      table: { type: 'string' }, // the earlier spelling of --postgres-table
    });
    const { postgres, instance } = parsed.values;
    const table = postgresTableOption(parsed.values);
    if (postgres === undefined && (instance !== undefined || table !== undefined)) throw new UsageError('--instance and --postgres-table go with --postgres');
    if (postgres !== undefined && parsed.positionals.length > 0) throw new UsageError('give either FILEs or --postgres, not both');
    let key: CheckpointKey | null = null;
    if (parsed.values.key !== undefined) key = await readKey(parsed.values.key);
    if (postgres !== undefined) {
      let report;
      try {
        report = await verifyAuditTable(postgres, key, { ...(table === undefined ? {} : { table }), ...(instance === undefined ? {} : { only: instance }) });
      } catch (e) {
        throw new UsageError(`cannot read the audit table: ${(e as Error).message}`);
      }
      process.stdout.write(parsed.values.json ? `${JSON.stringify(report, null, 2)}\n` : formatTableReport(report));
      return report.status === 'ok' ? 0 : report.status === 'tampered' ? 1 : 3;
    }
    const files = auditLogFilesNoting(parsed.positionals);
    if (files.length === 0) throw new UsageError('at least one audit log FILE (or --postgres URL) is required');
    let report;
    try {
      report = await verifyAuditFiles(files, key);
    } catch (e) {
      throw new UsageError(`cannot read the audit files: ${(e as Error).message}`);
    }
    process.stdout.write(parsed.values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.status === 'ok' ? 0 : report.status === 'tampered' ? 1 : 3;
  },
};

async function readKey(file: string): Promise<CheckpointKey> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the key ${file}: ${(e as Error).message}`);
  }
  try {
    const trimmed = text.trim();
    if (trimmed.startsWith('{')) {
      const doc = JSON.parse(trimmed) as { keys?: unknown[] };
      if (Array.isArray(doc.keys)) {
        if (doc.keys.length === 0) throw new Error('the key set is empty');
        return await loadCheckpointKey(JSON.stringify(doc.keys[0]));
      }
    }
    return await loadCheckpointKey(text);
  } catch (e) {
    throw new UsageError(`${file} is not an Ed25519 public key (PEM, JWK or JWK set): ${(e as Error).message}`);
  }
}

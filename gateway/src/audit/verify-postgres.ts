// Verification of the audit table (sink postgres): every instance's chain read in seq order and
// checked as one log is (audit/verify.ts: integrity, checkpoints, completeness), together.

import pg from 'pg';
import type { CheckpointKey } from './checkpoint.ts';
import { auditInstances, auditTable, readInstanceRows } from './postgres-table.ts';
import { auditLine, formatReport, verifyAuditLines, type AuditLine, type Severity, type VerifyReport } from './verify.ts';

export interface TableVerifyReport {
  table: string;
  /** One report per instance's chain, in instance order. */
  instances: Array<{ instance: string; report: VerifyReport }>;
  /** The worst of the instances' statuses; incomplete when the table holds no chain at all. */
  status: 'ok' | Severity;
  empty: boolean;
}

/** Verifies every chain in `table` (or only `only`) of the database at `url` against `key`. */
export async function verifyAuditTable(url: string, key: CheckpointKey | null, options: { table?: string; only?: string[] } = {}): Promise<TableVerifyReport> {
  const table = auditTable(options.table);
  const name = `${table.schema}.${table.name}`;
  const client = new pg.Client({ connectionString: url, application_name: 'gatehouse:audit-verify' });
  await client.connect();
  try {
    const all = await auditInstances(client, table);
    const instances = options.only === undefined || options.only.length === 0 ? all : options.only;
    const out: TableVerifyReport['instances'] = [];
    for (const instance of instances) {
      const lines: AuditLine[] = [];
      for await (const row of readInstanceRows(client, table, instance)) lines.push(auditLine(row.line, `${name}[${instance}]:${row.seq}`));
      const report = await verifyInstance(instance, lines, key, name);
      out.push({ instance, report });
    }
    const statuses = out.map((i) => i.report.status);
    const status = statuses.includes('tampered') ? 'tampered' : statuses.includes('incomplete') || out.length === 0 ? 'incomplete' : 'ok';
    return { table: name, instances: out, status, empty: out.length === 0 };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function verifyInstance(instance: string, lines: AuditLine[], key: CheckpointKey | null, table: string): Promise<VerifyReport> {
  const report = await verifyAuditLines([`${table}[${instance}]`], lines, key);
  if (lines.length === 0) {
    report.findings.push({ kind: 'deleted', severity: 'tampered', at: `${table}[${instance}]`, message: `instance ${instance} has no rows in the table` });
    report.status = 'tampered';
  }
  return report;
}

/** Human-readable: each instance's findings and summary, then the table's verdict. */
export function formatTableReport(r: TableVerifyReport): string {
  const parts = r.instances.map((i) => `instance ${i.instance}:\n${formatReport(i.report).replace(/^/gm, '  ').trimEnd()}\n`);
  const verdict = r.status === 'ok' ? 'OK' : r.status === 'tampered' ? 'TAMPERED' : 'INCOMPLETE';
  parts.push(r.empty ? `INCOMPLETE: ${r.table} holds no audit records\n` : `${verdict}: ${r.instances.length} instance chain(s) in ${r.table}\n`);
  return parts.join('');
}

// The record source an audit command reads (audit/record-source.ts), from its arguments: log FILEs,
// or --postgres URL [--postgres-table T] [--instance I]...; and the usage error for each mistake.

import { accessSync, constants, statSync } from 'node:fs';
import { auditLogFilesNoting } from '../audit/log-files.ts';
import { AuditSourceError, type AuditRecordSource } from '../audit/record-source.ts';
import { auditFileSource } from '../audit/record-source-files.ts';
import { auditTableSource } from '../audit/record-source-postgres.ts';
import { auditTable } from '../audit/postgres-table.ts';
import { UsageError } from './args.ts';

/** The values of AUDIT_TABLE_OPTIONS as parseArgs gives them. */
export interface AuditTableValues {
  postgres?: string | undefined;
  'postgres-table'?: string | undefined;
  instance?: string[] | undefined;
}

/** Files (`files`, named as `fileWord` in messages) or the audit table, never both; at least one. */
export function auditSourceOf(values: AuditTableValues, files: string[], fileWord = 'FILE'): AuditRecordSource {
  const { postgres, instance } = values;
  const table = values['postgres-table'];
  if (postgres === undefined) {
    if (instance !== undefined || table !== undefined) throw new UsageError('--instance and --postgres-table go with --postgres');
    const logs = auditLogFilesNoting(files);
    if (logs.length === 0) throw new UsageError(`at least one audit log ${fileWord} (or --postgres URL) is required`);
    for (const f of logs) {
      try {
        accessSync(f, constants.R_OK);
        if (statSync(f).isDirectory()) throw new Error('a directory, not a file');
      } catch (e) {
        throw new UsageError(`cannot read the audit file ${f}: ${(e as Error).message}`);
      }
    }
    return auditFileSource(logs);
  }
  if (files.length > 0) throw new UsageError(`give either ${fileWord}s or --postgres, not both`);
  try {
    auditTable(table);
  } catch (e) {
    throw new UsageError(`--postgres-table: ${(e as Error).message}`);
  }
  return auditTableSource({ url: postgres, ...(table === undefined ? {} : { table }), ...(instance === undefined ? {} : { instances: instance }) });
}

/** Runs `read`, turning a source that cannot be read into a usage error (exit 2) that says why. */
export async function readingSource<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof AuditSourceError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--postgres-table`, or `--table` where a command took that spelling first (verify, init-db). */
export function postgresTableOption(values: { 'postgres-table'?: string | undefined; table?: string | undefined }): string | undefined {
  if (values.table !== undefined && values['postgres-table'] !== undefined) throw new UsageError('give --postgres-table once (--table is its earlier spelling)');
  return values['postgres-table'] ?? values.table;
}

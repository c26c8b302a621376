// Opens the audit sink the configuration names (audit.sink): rotating local files, standard output
// (the same NDJSON lines, chained and checkpointed) or a PostgreSQL table shared by several
// instances. Everything above sees only the AuditSink interface.

import type { GatehouseConfig } from '../config/types.ts';
import { openAuditSink, type AuditSinkOptions } from './file-sink.ts';
import { STDOUT } from './append-file.ts';
import { resolveAuditInstance } from './instance-id.ts';
import { openPostgresAuditSink } from './postgres-sink.ts';
import type { AuditSink } from './types.ts';

export type CommonSinkOptions = Pick<AuditSinkOptions, 'signer' | 'checkpointIntervalMs' | 'redact' | 'onProblem'> & {
  onRotated?: (file: string) => void;
  /** Told which chain a postgres sink writes. */
  onInfo?: (message: string) => void;
};

export async function openConfiguredAuditSink(config: GatehouseConfig, common: CommonSinkOptions): Promise<AuditSink> {
  const audit = config.audit;
  const kind = audit.sink ?? (audit.postgresUrl ? 'postgres' : audit.file === STDOUT ? 'stdout' : 'file');
  const shared = { signer: common.signer ?? null, checkpointIntervalMs: common.checkpointIntervalMs, redact: common.redact, onProblem: common.onProblem };
  switch (kind) {
    case 'stdout':
      return openAuditSink(STDOUT, shared);
    case 'file':
      return openAuditSink(audit.file, {
        ...shared,
        fsync: audit.fsync ?? true,
        ...(audit.preallocateBytes == null ? {} : { preallocateBytes: audit.preallocateBytes }),
        ...(audit.ringBytes == null ? {} : { ringBytes: audit.ringBytes }),
        rotate:
          audit.rotateBytes == null && audit.rotateIntervalSeconds == null
            ? null
            : { maxBytes: audit.rotateBytes ?? null, intervalMs: audit.rotateIntervalSeconds == null ? null : audit.rotateIntervalSeconds * 1000 },
        onRotated: common.onRotated,
      });
    case 'postgres': {
      const instance = resolveAuditInstance(audit.instance, config.baseDir);
      const sink = await openPostgresAuditSink({ url: audit.postgresUrl!, table: audit.postgresTable, instance, ...shared });
      common.onInfo?.(`audit: records go to ${audit.postgresTable ?? 'gatehouse.audit_log'} as instance ${instance}`);
      return sink;
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown audit sink ${String(never)}`);
    }
  }
}

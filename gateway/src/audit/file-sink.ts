// The NDJSON audit sink: one JSON record per line, written synchronously so it is out of the
// process before write() returns, and failing loudly (the caller then refuses the statement).

import pino from 'pino';
import type { AuditHealth, AuditHealthReporter } from './health.ts';
import type { AuditRecord, AuditSink } from './types.ts';
import { GatehouseError } from '../errors.ts';

export interface AuditSinkOptions {
  /** fsync after every record: survives power loss, costs one disk flush per record. */
  fsync?: boolean;
}

export interface FileAuditSink extends AuditSink, AuditHealthReporter {
  /** Reopens the file (after logrotate moved it); call on SIGHUP. */
  reopen(): void;
}

type Destination = ReturnType<typeof pino.destination>;

/**
 * Opens the audit log at file ("-" for standard output), creating its directory.
 *
 * Why pino's destination and not a pino logger: an audit record is a versioned document with
 * its own schema (schemas/audit-record.schema.json), not a log line. A logger would add level,
 * time, pid, hostname and msg, and suppressing all of them takes several options that each
 * pino upgrade could change. What we want from pino is its destination, SonicBoom: in sync mode
 * it calls fs.writeSync until the whole line is written (retrying partial writes and EAGAIN),
 * creates the directory, supports reopen for log rotation, and throws on write errors. We
 * serialize the record ourselves, exactly as typed.
 *
 * Once a write has failed, the sink stays failed: SonicBoom may still hold part of the failed
 * line, and a later write could glue it to the next record. Every later write throws too,
 * so every statement is refused until the gateway is restarted or reopen() succeeds.
 */
export function openAuditSink(file: string, options: AuditSinkOptions = {}): FileAuditSink {
  let dest: Destination = open(file, options);
  let failure: Error | null = null;
  let closed = false;
  /** Serialized records from writeSoon(), written with the next write() or by the timer. */
  let deferred = '';
  let timer: NodeJS.Timeout | null = null;

  const flushDeferred = (): void => {
    timer = null;
    if (deferred === '' || failure !== null) return;
    const lines = deferred;
    deferred = '';
    try {
      dest.write(lines);
    } catch (cause) {
      failure = cause instanceof Error ? cause : new Error(String(cause));
    }
  };

  const sink: FileAuditSink = {
    writeSoon(record: AuditRecord): void {
      if (closed || failure !== null) return;
      deferred += `${JSON.stringify(record)}\n`;
      timer ??= setTimeout(flushDeferred, DEFERRED_FLUSH_MS).unref();
    },
    write(record: AuditRecord): void {
      if (closed) throw new GatehouseError('AUDIT_WRITE_FAILED', 'audit sink is closed');
      if (failure !== null) {
        throw new GatehouseError('AUDIT_WRITE_FAILED', `audit log unavailable after an earlier write error: ${failure.message}`, {
          cause: failure,
        });
      }
      let line: string;
      try {
        line = `${deferred}${JSON.stringify(record)}\n`;
      } catch (cause) {
        throw new GatehouseError('AUDIT_WRITE_FAILED', 'audit record is not serializable', { cause });
      }
      deferred = '';
      try {
        dest.write(line);
      } catch (cause) {
        failure = cause instanceof Error ? cause : new Error(String(cause));
        throw new GatehouseError('AUDIT_WRITE_FAILED', `cannot write the audit log: ${failure.message}`, { cause });
      }
    },
    health(): AuditHealth {
      if (closed) return { writable: false, reason: 'audit sink is closed' };
      return failure === null ? { writable: true } : { writable: false, reason: `write failed: ${failure.message}` };
    },
    reopen(): void {
      if (closed) return;
      if (file === '-') return;
      const old = dest;
      dest = open(file, options);
      failure = null;
      old.destroy();
    },
    async close(): Promise<void> {
      if (closed) return;
      if (timer) clearTimeout(timer);
      flushDeferred();
      closed = true;
      await new Promise<void>((resolve) => {
        dest.once('close', () => resolve());
        dest.once('error', () => resolve());
        dest.end();
      });
    },
  };
  return sink;
}

/** How long a deferred record (an outcome) may wait for the next synchronous write. */
const DEFERRED_FLUSH_MS = 20;

function open(file: string, options: AuditSinkOptions): Destination {
  try {
    return pino.destination({
      dest: file === '-' ? 1 : file,
      sync: true,
      mkdir: file !== '-',
      append: true,
      fsync: options.fsync ?? false,
    });
  } catch (cause) {
    throw new GatehouseError('AUDIT_WRITE_FAILED', `cannot open the audit log ${file}: ${(cause as Error).message}`, { cause });
  }
}

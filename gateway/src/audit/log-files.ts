// Which of the paths given to an audit command are audit logs: a glob such as audit.ndjson* also
// matches the chain state the gateway keeps beside the log (audit.ndjson.chain) and its write-ahead
// ring (audit.ndjson.wal), which are no logs and are left out.

import { existsSync } from 'node:fs';

export interface LogFiles {
  files: string[];
  /** Paths left out, each with why. */
  skipped: Array<{ file: string; why: string }>;
}

export function auditLogFiles(paths: string[]): LogFiles {
  const files: string[] = [];
  const skipped: LogFiles['skipped'] = [];
  const given = new Set(paths);
  for (const file of paths) {
    // The state of the log <X> is <X>.chain: left out when <X> is given too or is there beside it,
    // so a log itself named *.chain is not.
    const log = file.replace(/\.chain(\.tmp)?$/, '');
    const ringOf = file.replace(/\.wal$/, '');
    if (log !== file && (given.has(log) || existsSync(log))) skipped.push({ file, why: "the gateway's chain state beside the log, not a log file" });
    else if (ringOf !== file && (given.has(ringOf) || existsSync(ringOf))) skipped.push({ file, why: "the gateway's write-ahead ring beside the log, not a log file" });
    else files.push(file);
  }
  return { files, skipped };
}

/** The audit logs among `paths`, telling on standard error which were left out and why (for the CLI). */
export function auditLogFilesNoting(paths: string[]): string[] {
  const { files, skipped } = auditLogFiles(paths);
  for (const s of skipped) process.stderr.write(`skipped ${s.file}: ${s.why}\n`);
  return files;
}

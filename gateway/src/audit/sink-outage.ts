// An outage of the audit log (its file cannot be written or flushed): what it is, the refusal
// statements get meanwhile, the operator log lines at its start and end, and the record that ends it.

import { GatehouseError } from '../errors.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from './types.ts';

export interface Outage {
  error: NodeJS.ErrnoException;
  since: string;
  refused: number;
  outcomesLost: number;
}

/** An outage beginning now, for `e` (whatever was thrown). */
export function outageOf(e: unknown): Outage {
  const error = (e instanceof Error ? e : new Error(String(e))) as NodeJS.ErrnoException;
  return { error, since: new Date().toISOString(), refused: 0, outcomesLost: 0 };
}

/** Whether the outage is a full disk (or quota): the file stays open, no need to open it again. */
export function isSpace(e: NodeJS.ErrnoException): boolean {
  return e.code === 'ENOSPC' || e.code === 'EDQUOT';
}

/** The error a statement gets while the log cannot be written. */
export function outageRefusal(o: Outage): GatehouseError {
  return isSpace(o.error)
    ? new GatehouseError('AUDIT_DISK_FULL', 'the audit log is out of disk space, so Gatehouse refuses statements (none runs unaudited)', {
        cause: o.error,
        hint: 'Tell the Gatehouse operator to free space for the audit log; statements are accepted again as soon as it can be written.',
      })
    : new GatehouseError('AUDIT_WRITE_FAILED', `Gatehouse cannot write its audit log (${o.error.code ?? o.error.message}), so the statement was not run`, {
        cause: o.error,
        hint: 'Tell the Gatehouse operator (audit file not writable or its disk failing); statements are accepted again as soon as it can be written.',
      });
}

/** The operator log line at the start of an outage of the log `named`. */
export function outageBegan(named: string, o: Outage, retryMs: number): string {
  const { error } = o;
  return `audit log ${named} cannot be written (${error.code ?? error.message}${error.code === 'EPIPE' ? ': its reader closed the pipe' : ''}): statements are refused until it can; retrying every ${retryMs} ms`;
}

/** The "sink" record that ends an outage, written first when the log can be written again. */
export function recoveredRecord(o: Outage): AuditRecord {
  return {
    v: AUDIT_RECORD_VERSION,
    type: 'sink',
    time: new Date().toISOString(),
    event: 'recovered',
    outage: { since: o.since, reason: o.error.code ?? o.error.message, refused: o.refused, outcomes_lost: o.outcomesLost },
  };
}

/** The operator log line at the end of an outage of the log `named`. */
export function outageEnded(named: string, o: Outage): string {
  return `audit log ${named} is writable again (unavailable since ${o.since}, ${o.refused} statements refused meanwhile)`;
}

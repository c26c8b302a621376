// Where the audit commands read records from: one interface for rotated NDJSON files and for the
// PostgreSQL audit table (sink postgres), streamed in log order, with the scope a command needs
// (record types, time range, one decision) pushed down to the source where that is cheap.

import type { AuditRecord } from './types.ts';

/** One chained line as written, and where it is (file:line, or table[instance]:seq). */
export interface SourceLine {
  text: string;
  at: string;
}

/**
 * What a command needs. A source may give more than asked (files give every line): the scope lets
 * it leave out what it can cheaply, never what a record in scope needs. `until` bounds statement
 * records only: their outcomes and approvals come later and are given too.
 */
export interface LineScope {
  /** Record types wanted; empty: all. */
  types: readonly AuditRecord['type'][];
  /** Records at or after this time. */
  since: Date | null;
  /** Statement records before this time (and the outcomes and approvals of those). */
  until: Date | null;
  /** Only lines of this decision. */
  decisionId: string | null;
}

export const WHOLE_LOG: LineScope = { types: [], since: null, until: null, decisionId: null };

/** Why a source cannot be read (a file gone, the database unreachable, no such table). */
export class AuditSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditSourceError';
  }
}

export interface AuditRecordSource {
  /** What is read, for messages: the files, or the table and its instances. */
  readonly name: string;
  /**
   * The lines in log order: each chain in its own order (rotated files by their first seq, an
   * instance's rows by seq), several instances' chains merged by record time.
   */
  lines(scope: LineScope): AsyncIterable<SourceLine>;
}

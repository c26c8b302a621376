// The one thing readiness needs from an audit sink: whether it can write the next record right now.
// A sink reports it with health(); one without that method is judged by its last write (see
// metrics/observed-audit-sink.ts).

import type { AuditSink } from './types.ts';

export type AuditHealth = { writable: true } | { writable: false; reason: string };

/** Implemented by a sink that knows its own state (e.g. failed until reopened, or a queue backing up). */
export interface AuditHealthReporter {
  health(): AuditHealth;
}

/** The sink's own report, or null when it does not give one. */
export function reportedAuditHealth(sink: AuditSink): AuditHealth | null {
  const reporter = sink as AuditSink & Partial<AuditHealthReporter>;
  return typeof reporter.health === 'function' ? reporter.health() : null;
}

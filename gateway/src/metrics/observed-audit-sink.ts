// An audit sink seen by the metrics: times and counts writes, counts what the records say
// (statements by decision, policy activations, session events), and knows its sink's health.

import { reportedAuditHealth, type AuditHealth, type AuditHealthReporter } from '../audit/health.ts';
import type { AuditRecord, AuditSink } from '../audit/types.ts';
import type { GatewayMetrics } from './gateway-metrics.ts';

export interface ObservedAuditSink extends AuditSink, AuditHealthReporter {
  /** Reopens the inner sink when it can (after log rotation); a success clears a remembered failure. */
  reopen(): Promise<void>;
}

export function observeAuditSink(inner: AuditSink, metrics: GatewayMetrics): ObservedAuditSink {
  /** For a sink that reports no health of its own: the last write's failure, until a write or reopen succeeds. */
  let lastFailure: string | null = null;
  const writeSeconds = metrics.auditWriteSeconds.labels({});
  return {
    write(record: AuditRecord): void {
      // performance.now() and a typed-array histogram (metrics/bucket-histogram.ts): no closures, no label hashing.
      const start = performance.now();
      try {
        inner.write(record);
      } catch (e) {
        writeSeconds.observe((performance.now() - start) / 1000);
        metrics.auditWriteFailures.inc();
        lastFailure = e instanceof Error ? e.message : String(e);
        throw e;
      }
      writeSeconds.observe((performance.now() - start) / 1000);
      lastFailure = null;
      count(record, metrics);
    },
    writeSoon(record: AuditRecord): void {
      inner.writeSoon(record);
      count(record, metrics);
    },
    whenDurable: (done) => inner.whenDurable(done),
    writeAccepted: () => inner.writeAccepted?.(),
    close: () => inner.close(),
    async reopen(): Promise<void> {
      const sink = inner as AuditSink & { reopen?: () => void | Promise<void> };
      if (typeof sink.reopen !== 'function') return;
      await sink.reopen();
      lastFailure = null;
    },
    health(): AuditHealth {
      return reportedAuditHealth(inner) ?? (lastFailure === null ? { writable: true } : { writable: false, reason: lastFailure });
    },
  };
}

function count(record: AuditRecord, metrics: GatewayMetrics): void {
  switch (record.type) {
    case 'statement':
      metrics.countStatement(record.decision, record.engine ?? 'none');
      return;
    case 'policy':
      metrics.policyActivations.inc({ outcome: record.event });
      return;
    case 'session':
      metrics.sessionEvents.inc({ event: record.event });
      return;
    case 'outcome':
    case 'approval':
    case 'checkpoint':
    case 'sink':
      return;
    default: {
      const never: never = record;
      throw new Error(`unknown audit record ${JSON.stringify(never)}`);
    }
  }
}

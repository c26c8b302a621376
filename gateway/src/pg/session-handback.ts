// What a session's end leaves behind: whether its upstream connection can serve another client
// (handed back idle) or is spent, and the audit of the statements the server still owed answers for.

import type { Decision } from '../policy/types.ts';
import { changesCatalog } from '../sql/catalog-changes.ts';
import type { StatementOutcome } from '../audit/types.ts';
import type { TransactionStatus } from '../wire/backend.ts';
import type { BatchState } from './batch-state.ts';
import type { CopyInTracker } from './copy-in.ts';
import type { PendingQueue } from './pending.ts';
import type { SessionOutput } from './session-output.ts';
import type { UpstreamHandback } from './upstream-lease.ts';
import type { UpstreamRelay } from './upstream-relay.ts';

/** The parts of a session its handback depends on. */
export interface HandbackState {
  readonly reuseUpstream: boolean;
  readonly pending: Pick<PendingQueue, 'length'>;
  readonly out: Pick<SessionOutput, 'upstreamIdle'>;
  readonly batch: Pick<BatchState, 'forwarded'>;
  readonly copyIn: Pick<CopyInTracker, 'state'>;
  readonly upstream: { readonly destroyed: boolean };
  readonly relay: Pick<UpstreamRelay, 'handOver'>;
  readonly txStatus: TransactionStatus;
}

/**
 * Whether the upstream connection can serve another client after a reset: the client ended the
 * session (`clientEnded`), and the server has answered everything it was sent, with nothing
 * queued, waiting for the audit flush, copying in, or in an extended batch without its Sync
 * (whose implicit transaction a Sync would commit).
 */
export function handbackOf(s: HandbackState, clientEnded: boolean, problem: boolean): UpstreamHandback {
  if (!s.reuseUpstream) return { kind: 'spent', why: 'not pooled' };
  if (problem || !clientEnded) return { kind: 'spent', why: 'the session did not end cleanly' };
  if (s.pending.length > 0) return { kind: 'spent', why: 'the client left while the server still owed answers' };
  if (!s.out.upstreamIdle || s.batch.forwarded) return { kind: 'spent', why: 'messages were in flight' };
  if (s.copyIn.state !== null) return { kind: 'spent', why: 'in COPY' };
  if (s.upstream.destroyed) return { kind: 'spent', why: 'upstream closed' };
  const leftover = s.relay.handOver();
  if (leftover === null) return { kind: 'spent', why: 'the relay was busy' };
  return { kind: 'idle', leftover, txStatus: s.txStatus };
}

/**
 * At the session's end, every statement the server still owed an answer for is audited as aborted.
 * Returns whether one of them may change the catalog: a schema change whose answer the server still
 * owes may commit after the client left (red-team round 12, R12-4).
 */
export function abortUnanswered(pending: Pick<PendingQueue, 'shift'>, writeOutcome: (decision: Pick<Decision, 'id' | 'revision'>, outcome: StatementOutcome) => void): boolean {
  let catalogMayChange = false;
  for (let p = pending.shift(); p; p = pending.shift()) {
    if (p.kind === 'query' || p.kind === 'execute') {
      for (const s of p.ctx.statements.slice(p.ctx.index)) {
        if (s.decision.action !== 'deny' && s.parsed && changesCatalog(s.parsed.facts)) catalogMayChange = true;
        writeOutcome(s.decision, { status: 'aborted' });
      }
    }
  }
  return catalogMayChange;
}

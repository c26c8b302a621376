// What the upstream relay (pg/upstream-relay.ts) needs of the session it serves: the pending queue
// and tables it attributes answers with, the client output, and the session events its answers
// cause. The session implements it; the relay depends on this, never on pg/session.ts.

import type { Socket } from 'node:net';
import type { SubjectsRecord } from '../audit/subjects.ts';
import type { StatementOutcome } from '../audit/types.ts';
import type { DetectionCounts } from '../enforce/content-detectors.ts';
import type { DecisionContext } from '../enforce/decision-context.ts';
import type { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import type { TransactionStatus } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import type { CatalogResolver } from './catalog.ts';
import type { FailedBlock } from './failed-block.ts';
import type { GuardedSession } from './parameter-status-guard.ts';
import type { LockAnswerSink } from './lock-answers.ts';
import type { PendingQueue, PreparedStatement, ResultContext } from './pending.ts';
import type { PinCheckHost } from './pin-check.ts';
import type { PortalTable } from './portal-table.ts';
import type { RevisionFence } from './revision-fence.ts';

export interface RelayHost extends GuardedSession, LockAnswerSink, PinCheckHost {
  readonly pending: PendingQueue;
  readonly statements: Map<string, PreparedStatement>;
  readonly portals: PortalTable;
  /** The policy revisions of the open transaction and the cursors (pg/revision-fence.ts). */
  readonly fence: Pick<RevisionFence, 'ready' | 'completed'>;
  txStatus: TransactionStatus;
  /** Whether the server is certainly in a failed transaction block (pg/failed-block.ts). */
  readonly failedBlock: Pick<FailedBlock, 'ready' | 'executed'>;
  readonly upstream: Pick<Socket, 'pause' | 'resume'>;
  readonly deps: { readonly decision: Pick<DecisionContext, 'disclosures'>; readonly catalog: Pick<CatalogResolver, 'relations'> };
  readonly isClosed: boolean;
  /** Completes a statement's audit trail. */
  writeOutcome(decision: Pick<Decision, 'id' | 'revision'>, outcome: StatementOutcome, detected?: DetectionCounts, subjects?: SubjectsRecord | null): void;
  /** Relays a server message as received. */
  emitFrame(frame: Frame): void;
  /** Writes what was queued for the client now. */
  flushClient(): void;
  /** Writes what this turn queued once the turn's work is done. */
  flushSoon(): void;
  /** A response the head pending entry cannot produce: the session ends. */
  endOnDesync(error: GatehouseError): void;
  /** A schema change made in this session committed. */
  catalogChanged(): void;
  /** Pending entries were answered: a parked client message may go on. */
  upstreamAnswered(): void;
  /** A ParameterStatus relayed to the client. */
  upstreamParameter(frame: Frame): void;
  /** The answer to the search_path probe (null when it failed). */
  searchPathProbed(value: string | null): void;
  /** The server answered a COPY FROM STDIN with CopyInResponse. */
  copyInStarted(ctx: ResultContext): void;
  /** The request with a COPY FROM STDIN is over. */
  copyEnded(ctx: ResultContext): void;
  /** Upstream failed an extended-protocol message and skips until Sync. */
  upstreamSkipping(syncQueued: boolean, probeSkipped: boolean): void;
}

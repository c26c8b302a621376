// A session's client messages after startup, one at a time in the order ClientInput gives them
// (pg/client-input.ts): each dispatched by type, in a closed switch, to what decides and forwards it
// (pg/statement-decisions.ts for SQL, pg/bind-describe-close.ts for names), passed through (Flush,
// COPY data), or refused (a fast-path FunctionCall: pg/fast-path-call.ts); discarded until Sync after
// an error in an extended batch, as PostgreSQL does.

import type { Frame } from '../wire/framer.ts';
import { decodeFrontend, type FrontendMessage } from '../wire/frontend.ts';
import { WireError } from '../wire/wire-error.ts';
import type { ArrivalLocks } from './arrival-locks.ts';
import { NamedMessages, type NamedMessagesHost } from './bind-describe-close.ts';
import type { ClientInput } from './client-input.ts';
import type { CopyInTracker } from './copy-in.ts';
import { refuseFastPathCall } from './fast-path-call.ts';
import { StatementDecisions, type DecisionsHost, type DecisionsParts } from './statement-decisions.ts';

/** What dispatching needs of the session. */
export interface ClientMessagesHost extends DecisionsHost, NamedMessagesHost {
  readonly portals: DecisionsHost['portals'] & NamedMessagesHost['portals'];
  /** Passes a client message upstream as it came (Flush, COPY data). */
  frameUpstream(frame: Frame): void;
  /** The client sent Terminate. */
  clientTerminated(): void;
}

/** The session's parts the messages drive. */
export interface ClientMessagesParts extends DecisionsParts {
  readonly input: Pick<ClientInput, 'parkedBehind' | 'afterStatementsAhead'>;
  readonly copyIn: CopyInTracker;
  readonly locks: ArrivalLocks;
}

export class ClientMessages {
  /** Query, Parse and Execute from decision to upstream. */
  readonly decisions: StatementDecisions;
  /** Bind, Describe and Close checked and renamed. */
  private readonly named: NamedMessages;

  constructor(
    private readonly s: ClientMessagesHost,
    private readonly p: ClientMessagesParts,
  ) {
    this.decisions = new StatementDecisions(s, p);
    this.named = new NamedMessages(s, p.locks);
  }

  onClientFrame(frame: Frame): void {
    if (frame.truncated !== undefined) return this.decisions.onOversized(frame, frame.truncated.length);
    const msg = decodeFrontend(frame);
    if (this.p.copyIn.state === 'active' && this.duringCopyIn(msg.type, frame)) return;
    if (this.p.input.parkedBehind(frame, msg)) return;
    if (this.s.batch.skipUntilSync && msg.type !== 'sync' && msg.type !== 'terminate') {
      if (msg.type === 'query') this.decisions.auditDiscarded(msg.sql, 'simple');
      if (msg.type === 'parse') this.decisions.auditDiscarded(msg.sql, 'extended');
      if (msg.type === 'functionCall') refuseFastPathCall(this.s, msg.oid, true);
      return;
    }
    switch (msg.type) {
      case 'query':
        return this.decisions.onQuery(msg.sql, frame.raw);
      case 'parse':
        return this.decisions.onParse(msg.name, msg.sql, msg.paramTypes, frame.raw, this.p.input.afterStatementsAhead);
      case 'bind':
        return this.named.bind(msg, frame.raw, this.p.input.afterStatementsAhead);
      case 'describe':
        return this.named.describe(msg, frame.raw);
      case 'execute':
        return this.decisions.onExecute(msg.portal, msg.maxRows, frame.raw, this.p.input.afterStatementsAhead);
      case 'close':
        return this.named.close(msg, frame.raw);
      case 'sync':
        this.s.batch.skipUntilSync = false;
        this.s.forward(frame.raw, { kind: 'sync' });
        this.s.probeSearchPathIfStale();
        this.s.batch.forwarded = false;
        return;
      case 'flush':
      case 'copyData':
      case 'copyDone':
      case 'copyFail':
        this.s.frameUpstream(frame);
        return;
      case 'terminate':
        return this.s.clientTerminated();
      case 'functionCall':
        return refuseFastPathCall(this.s, msg.oid, false);
      case 'password':
        throw new WireError('unexpected password message after authentication');
      default: {
        const never: never = msg;
        throw new WireError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  /** A client message while the server copies data in (CopyInTracker.clientMessage). Returns false for Terminate. */
  private duringCopyIn(type: FrontendMessage['type'], frame: Frame): boolean {
    const step = this.p.copyIn.clientMessage(type);
    if (step === 'forward') this.s.frameUpstream(frame);
    return step !== 'terminate';
  }
}

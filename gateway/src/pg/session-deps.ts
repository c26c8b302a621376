// What a session is given by the connection that starts it (pg/client-connection.ts): the decision
// context, the catalog, the limits, and where its end and its upstream parameters are reported.

import type { SessionRecorder } from '../audit/session-recording.ts';
import type { DecisionContext } from '../enforce/decision-point.ts';
import type { CatalogResolver } from './catalog.ts';
import type { StatementLimits } from './statement-limits.ts';
import type { UpstreamHandback } from './upstream-lease.ts';

export interface SessionDeps {
  decision: DecisionContext;
  catalog: CatalogResolver;
  maxMessageBytes: number;
  /** Limits on the SQL one message may ask to parse and decide (pg/statement-limits.ts). */
  limits: StatementLimits;
  /**
   * `problem`: why the session was ended on a protocol violation or desynchronisation, else null.
   * `upstream`: the upstream connection handed back idle (only with reuseUpstream), or spent (destroyed).
   */
  onClose: (problem: string | null, upstream: UpstreamHandback) => void;
  /** Upstream connections are pooled: a client's Terminate is not forwarded, and an idle connection is handed back. */
  reuseUpstream?: boolean;
  /** Told every ParameterStatus relayed to the client (the pool keeps the connection's parameters). */
  upstreamParameter?: (name: string, value: string) => void;
  /** With audit.recordings_dir: told every message sent to the client (audit/session-recording.ts). */
  recorder?: Pick<SessionRecorder, 'clientMessage'>;
  /** The server's answer to SEARCH_PATH_PROBE, read when the upstream session was handed over (pg/upstream-lease.ts); else the session asks. */
  searchPathProbe?: string | null;
}

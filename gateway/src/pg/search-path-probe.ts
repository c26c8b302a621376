// A session's questions to the server about its search_path: asked at the start and after a batch
// that may have changed it (pg/search-path-tracker.ts says when), right behind that batch, with the
// client's next messages held until the answer is in; the answer becomes the path statements are
// decided with (the query is pg/search-path.ts SEARCH_PATH_PROBE).

import type { DecisionContext } from '../enforce/decision-point.ts';
import type { TransactionStatus } from '../wire/backend.ts';
import { encodeQuery } from '../wire/frontend.ts';
import type { PendingQueue } from './pending.ts';
import { SEARCH_PATH_PROBE } from './search-path.ts';
import { SearchPathTracker } from './search-path-tracker.ts';

/** What probing needs of the session. */
export interface SearchPathProbeHost {
  readonly pending: Pick<PendingQueue, 'push'>;
  txStatus(): TransactionStatus;
  /** The path statements are decided with from now on (DecisionContext.searchPath). */
  setPath(path: DecisionContext['searchPath']): void;
  sendUpstream(message: Buffer): void;
  /** A COPY FROM STDIN was forwarded and is not over. */
  copying(): boolean;
  /** Holds (or lets go) the client's next messages. */
  holdClient(hold: boolean): void;
  /** Takes the client messages held meanwhile. */
  resume(): void;
}

export class SearchPathProbe {
  /** When to ask the server for search_path, and what cannot be decided until it answers. */
  readonly tracker = new SearchPathTracker();

  constructor(private readonly s: SearchPathProbeHost) {}

  /**
   * The path the session starts with comes from the server, whatever set it (startup parameter,
   * ALTER ROLE/DATABASE ... SET, the server's default): asked before any client message is decided,
   * unless the pool already asked at checkout (`answer`; an unreadable answer is asked again).
   */
  start(answer: string | null | undefined): void {
    if (answer != null && this.tracker.takeProbe()) {
      const path = this.tracker.probed(answer, 'I');
      if (path !== null) this.s.setPath(path);
    }
    this.probeIfStale();
  }

  /**
   * After a batch that may have changed search_path, asks the server for the effective path right
   * behind it, and holds the client's next messages until the answer is in, so the next statement
   * is decided with its names qualified the way PostgreSQL will resolve them.
   */
  probeIfStale(): void {
    // A Query behind a COPY FROM STDIN would end the COPY as an error: asked after it instead.
    if (this.s.copying() || !this.tracker.takeProbe()) return;
    this.s.sendUpstream(encodeQuery(SEARCH_PATH_PROBE));
    this.s.pending.push({ kind: 'search-path', value: null, failed: false });
    this.s.holdClient(true);
  }

  /** The probe's answer (null when it failed, e.g. in an aborted transaction: asked again later). */
  probed(value: string | null): void {
    const path = this.tracker.probed(value, this.s.txStatus());
    if (path !== null) this.s.setPath(path);
    this.s.holdClient(false);
    this.s.resume();
  }

  /** The probe was sent in a stretch the server skipped (an error before it): asked again after the next Sync. */
  skipped(): void {
    this.tracker.markStale();
    this.s.holdClient(false);
    this.s.resume();
  }
}

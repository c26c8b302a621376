// COPY ... FROM STDIN on the wire: while the server copies data in, it reads only CopyData,
// CopyDone and CopyFail, ignores Sync and Flush, and fails on anything else. Gatehouse must know when
// that is, or it would count an ignored Sync as a request and attribute every later response to the
// request before the one it answers (CopyInTracker holds the state for pg/session.ts; pg/upstream-relay.ts
// tells it when the server started or ended copying).

import type { DecidedStatement } from '../enforce/decided-statement.ts';
import type { FrontendMessage } from '../wire/frontend.ts';
import { WireError } from '../wire/wire-error.ts';
import type { ResultContext } from './pending.ts';

/**
 * `starting`: the request with the COPY went up; until the server answers (CopyInResponse, or an
 * error) the client's next messages wait. `active`: the server is copying data in (until the client's
 * CopyDone or CopyFail, or an error in the data).
 */
export type CopyIn = { state: 'starting' | 'active'; ctx: ResultContext };

/** What to do with a client message while the server copies data in: forward it as it is, drop it, or end (Terminate). */
export type CopyInStep = 'forward' | 'drop' | 'terminate';

/** How many statements of a request are COPY ... FROM STDIN (only a top-level COPY reads from the client). */
export function copyFromStdinCount(statements: readonly DecidedStatement[]): number {
  let n = 0;
  for (const s of statements) {
    const copy = s.parsed?.facts.copy;
    if (copy && copy.direction === 'from' && copy.endpoint === 'stdio') n++;
  }
  return n;
}

/** Whether the server is about to copy data in from the client, or is copying, and for which request. */
export class CopyInTracker {
  private copy: CopyIn | null = null;

  /** null: no COPY FROM STDIN in flight. */
  get state(): CopyIn['state'] | null {
    return this.copy?.state ?? null;
  }

  /**
   * A request went up. When it has COPY FROM STDIN, whether the server will be copying data in when
   * the next messages reach it is known only from its answer (CopyInResponse, or an error): they
   * wait until then.
   */
  forwarded(ctx: ResultContext): void {
    const copies = copyFromStdinCount(ctx.statements);
    if (copies === 0) return;
    ctx.copyFromLeft = copies;
    this.copy = { state: 'starting', ctx };
  }

  /**
   * A client message while the server copies data in: data, CopyDone and CopyFail go up as they
   * are. Sync and Flush are dropped: PostgreSQL ignores them while it copies, and answers a Sync only
   * if the COPY already failed, which Gatehouse cannot know in time (docs/data-path.md). Anything
   * else PostgreSQL would swallow as an error or run, depending on timing, so it is a protocol
   * violation (the session ends).
   */
  clientMessage(type: FrontendMessage['type']): CopyInStep {
    const copy = this.copy!;
    switch (type) {
      case 'copyData':
        return 'forward';
      case 'flush':
      case 'sync':
        return 'drop';
      case 'copyDone':
      case 'copyFail':
        this.copy = (copy.ctx.copyFromLeft ?? 0) > 0 ? { state: 'starting', ctx: copy.ctx } : null;
        return 'forward';
      case 'terminate':
        return 'terminate';
      default:
        throw new WireError(`${type} message during COPY FROM STDIN: send CopyDone or CopyFail first`);
    }
  }

  /** The server answered `ctx`'s COPY FROM STDIN with CopyInResponse; whether client messages may go up again. */
  started(ctx: ResultContext): boolean {
    if (this.copy?.ctx !== ctx || this.copy.state !== 'starting') return false;
    ctx.copyFromLeft = (ctx.copyFromLeft ?? 1) - 1;
    this.copy = { state: 'active', ctx };
    return true;
  }

  /** The request `ctx` is over (done, failed or skipped): the server copies nothing in. Whether it was the one tracked. */
  ended(ctx: ResultContext): boolean {
    if (this.copy?.ctx !== ctx) return false;
    this.copy = null;
    return true;
  }
}

// COPY ... FROM STDIN on the wire: while the server copies data in, it reads only CopyData,
// CopyDone and CopyFail, ignores Sync and Flush, and fails on anything else. Gatehouse must know when
// that is, or it would count an ignored Sync as a request and attribute every later response to the
// request before the one it answers (pg/session.ts holds the state, pg/upstream-relay.ts ends it).

import type { DecidedStatement } from '../enforce/decided-statement.ts';
import type { ResultContext } from './pending.ts';

/**
 * `starting`: the request with the COPY went up; until the server answers (CopyInResponse, or an
 * error) the client's next messages wait. `active`: the server is copying data in (until the client's
 * CopyDone or CopyFail, or an error in the data).
 */
export type CopyIn = { state: 'starting' | 'active'; ctx: ResultContext };

/** How many statements of a request are COPY ... FROM STDIN (only a top-level COPY reads from the client). */
export function copyFromStdinCount(statements: readonly DecidedStatement[]): number {
  let n = 0;
  for (const s of statements) {
    const copy = s.parsed?.facts.copy;
    if (copy && copy.direction === 'from' && copy.endpoint === 'stdio') n++;
  }
  return n;
}

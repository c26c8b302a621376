import { beforeAll, describe, expect, it } from 'vitest';
import type { DecidedStatement } from '../enforce/decided-statement.ts';
import type { PolicyEngine } from '../policy/types.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { cursorFetchText } from './cursor-execute.ts';
import { newResultContext } from './pending.ts';
import { RevisionFence } from './revision-fence.ts';

beforeAll(() => loadSqlParser());

/** The statements of `sql`, each decided `allow` under `revision`. */
function decided(sql: string, revision: string): DecidedStatement[] {
  const outcome = analyzeQuery(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements.map((parsed, i) => ({
    text: parsed.text,
    parsed,
    input: null,
    decision: { action: 'allow', reason: 'ok', policies: [], masks: [], id: `d-${i}`, engine: 'rego', revision, evalMicros: 0 },
  }));
}

function fenceAt(revision: { now: string }): RevisionFence {
  return new RevisionFence(() => ({ engines: { current: () => ({ revision: revision.now }) as PolicyEngine } }) as never);
}

const query = (sql: string, revision: string) => ({ kind: 'query' as const, ctx: newResultContext(decided(sql, revision), []) });
/** Forwards `sql` as a simple Query and has the server complete each of its statements. */
function ran(f: RevisionFence, sql: string, revision: string): void {
  const q = query(sql, revision);
  f.forwarded(q);
  for (const s of q.ctx.statements) f.completed(s);
}
const execute = (sql: string, revision: string) => ({ kind: 'execute' as const, ctx: newResultContext(decided(sql, revision), []), portal: null });

describe('RevisionFence', () => {
  it('refuses a statement in a block begun under another revision (40001), but lets COMMIT, ROLLBACK and COMMIT AND CHAIN end it', () => {
    const f = fenceAt({ now: 'a' });
    f.forwarded(query('BEGIN', 'a'));
    expect(f.refusal(decided('SELECT 1', 'a'))).toBeNull();
    expect(f.refusal(decided('SELECT 1', 'b'))?.sqlstate).toBe('40001');
    expect(f.refusal(decided('SAVEPOINT s', 'b'))?.code).toBe('POLICY_CHANGED_IN_TRANSACTION');
    expect(f.refusal(decided('ROLLBACK TO SAVEPOINT s', 'b'))?.sqlstate).toBe('40001');
    for (const end of ['COMMIT', 'ROLLBACK', 'END', 'ABORT', 'COMMIT AND CHAIN', "PREPARE TRANSACTION 'x'"]) expect(f.refusal(decided(end, 'b')), end).toBeNull();
    // In one string: what follows the end of the block is judged as a new transaction.
    expect(f.refusal(decided('ROLLBACK; BEGIN; SELECT 1', 'b'))).toBeNull();
    expect(f.refusal(decided('SELECT 1; ROLLBACK', 'b'))?.sqlstate).toBe('40001');
  });

  it('does not refuse pipelined autocommit statements across an activation (the block is predicted from what was forwarded)', () => {
    const f = fenceAt({ now: 'b' });
    f.forwarded(query('SELECT 1', 'a')); // its ReadyForQuery still to come
    expect(f.refusal(decided('SELECT 2', 'b'))).toBeNull();
    f.forwarded(query('BEGIN; SELECT 1; COMMIT', 'a'));
    expect(f.refusal(decided('SELECT 2', 'b'))).toBeNull();
  });

  it("stamps an extended batch's implicit transaction at its first Execute and ends it at Sync", () => {
    const f = fenceAt({ now: 'b' });
    f.forwarded(execute('SELECT 1', 'a'));
    expect(f.refusal(decided('SELECT 2', 'b'))?.sqlstate).toBe('40001');
    f.forwarded({ kind: 'sync' });
    expect(f.refusal(decided('SELECT 2', 'b'))).toBeNull();
    // An explicit BEGIN by Execute is not ended by Sync.
    f.forwarded(execute('BEGIN', 'a'));
    f.forwarded({ kind: 'sync' });
    expect(f.refusal(decided('SELECT 2', 'b'))?.sqlstate).toBe('40001');
  });

  it("follows the server's ReadyForQuery when nothing else is in flight, and fails closed on a block it did not foresee", () => {
    const f = fenceAt({ now: 'b' });
    f.forwarded(query('BEGIN', 'a'));
    f.ready('T', false);
    f.ready('I', true); // e.g. the block ended in a way Gatehouse did not follow
    expect(f.refusal(decided('SELECT 1', 'b'))).toBeNull();
    f.forwarded(query('SELECT 1', 'a'));
    f.ready('T', true); // the server says a block is open: it began under the last revision forwarded
    expect(f.refusal(decided('SELECT 1', 'b'))?.sqlstate).toBe('40001');
    expect(f.refusal(decided('SELECT 1', 'a'))).toBeNull();
  });

  it('refuses FETCH and MOVE of a cursor declared under another revision, not CLOSE; a cursor without HOLD is gone at the end of its block', () => {
    const f = fenceAt({ now: 'a' });
    ran(f, 'BEGIN; DECLARE h CURSOR WITH HOLD FOR SELECT 1; DECLARE n CURSOR FOR SELECT 1; COMMIT', 'a');
    f.ready('I', true);
    expect(f.refusal(decided('FETCH ALL FROM h', 'a'))).toBeNull();
    expect(f.refusal(decided('FETCH ALL FROM h', 'b'))?.code).toBe('POLICY_CHANGED_FOR_CURSOR');
    expect(f.refusal(decided('MOVE 1 IN h', 'b'))?.sqlstate).toBe('40001');
    expect(f.refusal(decided('FETCH ALL FROM n', 'b'))).toBeNull(); // no such cursor any more: PostgreSQL says 34000
    expect(f.refusal(decided('CLOSE h', 'b'))).toBeNull();
    // A protocol Execute of the cursor is decided as the FETCH it amounts to (pg/cursor-execute.ts).
    expect(f.refusal(decided(cursorFetchText('h', 2), 'b'))?.code).toBe('POLICY_CHANGED_FOR_CURSOR');
    // Forwarded but not completed (refused by the server, or skipped after an error): nothing changes (R20c-1, R20c-2).
    f.forwarded(query('DECLARE h CURSOR WITH HOLD FOR SELECT 2', 'b'));
    f.forwarded(query('CLOSE h', 'b'));
    f.ready('I', true);
    expect(f.refusal(decided('FETCH ALL FROM h', 'b'))?.sqlstate).toBe('40001');
    ran(f, 'CLOSE h', 'b');
    ran(f, 'DECLARE h CURSOR WITH HOLD FOR SELECT 2', 'b');
    expect(f.refusal(decided('FETCH ALL FROM h', 'b'))).toBeNull();
    expect(f.refusal(decided(cursorFetchText('h', 0), 'b'))).toBeNull();
  });
});

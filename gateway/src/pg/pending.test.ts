import { describe, expect, it } from 'vitest';
import { BE } from '../wire/message-types.ts';
import { canProduce, PendingQueue, skipsUntilSync, type Pending, type ResultContext } from './pending.ts';

const ctx = (): ResultContext => ({ statements: [], masks: [], detections: [], index: 0, plan: null, columns: null, rows: 0, detected: {} });
const statement = { name: 's', upstreamName: 'gatehouse_x_1', sql: 'SELECT 1', preparedSql: 'SELECT 1', fields: null };

/** One entry of every kind, keyed by kind. */
const ENTRY: { [K in Pending['kind']]: Extract<Pending, { kind: K }> } = {
  query: { kind: 'query', ctx: ctx() },
  parse: { kind: 'parse', statement, replaced: null },
  'close-statement': { kind: 'close-statement', statement },
  bind: { kind: 'bind', portal: null, previous: null },
  describe: { kind: 'describe', hidden: false, target: null },
  execute: { kind: 'execute', ctx: ctx(), portal: null },
  close: { kind: 'close', portal: null },
  sync: { kind: 'sync' },
  'swap-error': { kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: null },
  'refused-query': { kind: 'refused-query', error: Buffer.alloc(0), shown: false, droppedUnnamed: null },
  'search-path': { kind: 'search-path', value: null, failed: false },
  'lock-ahead': { kind: 'lock-ahead', prefix: { text: 'LOCK TABLE "public"."t" IN ACCESS SHARE MODE NOWAIT; ', statements: 1, chars: 53, relations: ['public.t'] }, ctx: ctx(), sql: 'SELECT * FROM t', left: 6 },
};

function queueOf(kinds: Pending['kind'][]): PendingQueue {
  const q = new PendingQueue();
  for (const k of kinds) q.push({ ...ENTRY[k] } as Pending);
  return q;
}

const kindsOf = (entries: Pending[]): string[] => entries.map((p) => p.kind);

function remaining(q: PendingQueue): string[] {
  const out: string[] = [];
  for (let p = q.shift(); p; p = q.shift()) out.push(p.kind);
  return out;
}

/** What the relay does with an ErrorResponse for the head entry (pg/upstream-relay.ts onError). */
function errorAtHead(q: PendingQueue): Pending[] {
  const head = q.peek()!;
  if (!skipsUntilSync(head)) return [];
  return [q.shift()!, ...q.dropUntilSync()];
}

describe('PendingQueue', () => {
  it('is a FIFO across its compaction', () => {
    const q = new PendingQueue();
    for (let i = 0; i < 200; i++) q.push({ kind: 'bind', portal: null, previous: null });
    for (let i = 0; i < 150; i++) q.shift();
    q.push({ kind: 'sync' });
    expect(q.length).toBe(51);
    expect(remaining(q).at(-1)).toBe('sync');
  });

  describe('an error in an extended batch: PostgreSQL skips everything until Sync', () => {
    it('skips a simple Query, Execute, Describe and Close sent before the Sync (the B8 pipeline)', () => {
      // Parse(fails) Bind Execute Query Describe Close Close-statement Execute Sync | Query
      const q = queueOf(['parse', 'bind', 'execute', 'query', 'describe', 'close', 'close-statement', 'execute', 'sync', 'query']);
      expect(kindsOf(errorAtHead(q))).toEqual(['parse', 'bind', 'execute', 'query', 'describe', 'close', 'close-statement', 'execute']);
      // The Sync's ReadyForQuery, then the next Query's results, land on their own entries.
      expect(remaining(q)).toEqual(['sync', 'query']);
    });

    it("skips Gatehouse's own search_path probe and refusals sent in the skipped stretch", () => {
      const q = queueOf(['execute', 'query', 'search-path', 'refused-query', 'swap-error', 'sync', 'search-path']);
      expect(kindsOf(errorAtHead(q))).toEqual(['execute', 'query', 'search-path', 'refused-query', 'swap-error']);
      // A probe sent after the Sync runs.
      expect(remaining(q)).toEqual(['sync', 'search-path']);
    });

    it('drops everything when the Sync has not been sent yet', () => {
      const q = queueOf(['bind', 'execute', 'query', 'search-path']);
      expect(kindsOf(errorAtHead(q))).toEqual(['bind', 'execute', 'query', 'search-path']);
      expect(q.length).toBe(0);
    });

    it('stops at the first Sync: the next batch is not skipped', () => {
      const q = queueOf(['swap-error', 'sync', 'parse', 'bind', 'execute', 'sync']);
      expect(kindsOf(errorAtHead(q))).toEqual(['swap-error']);
      expect(remaining(q)).toEqual(['sync', 'parse', 'bind', 'execute', 'sync']);
    });

    it('back-to-back failing batches each end at their own Sync', () => {
      const q = queueOf(['parse', 'bind', 'query', 'sync', 'parse', 'execute', 'query', 'sync', 'query']);
      expect(kindsOf(errorAtHead(q))).toEqual(['parse', 'bind', 'query']);
      expect(q.shift()?.kind).toBe('sync'); // its ReadyForQuery
      expect(kindsOf(errorAtHead(q))).toEqual(['parse', 'execute', 'query']);
      expect(remaining(q)).toEqual(['sync', 'query']);
    });
  });

  it('errors in a simple Query, at a Sync, or in Gatehouse probes and refusal queries do not skip', () => {
    for (const head of ['query', 'sync', 'refused-query', 'search-path'] as const) {
      const q = queueOf([head, 'parse', 'sync']);
      expect(errorAtHead(q), head).toEqual([]);
      expect(q.length, head).toBe(3);
    }
    for (const head of ['parse', 'bind', 'describe', 'execute', 'close', 'close-statement', 'swap-error'] as const) {
      expect(skipsUntilSync(ENTRY[head]), head).toBe(true);
    }
  });
});

describe('canProduce: which responses each pending entry can be answered with', () => {
  const producers = (type: number): string[] =>
    (Object.keys(ENTRY) as Pending['kind'][]).filter((k) => canProduce(ENTRY[k], type)).sort();

  it('rows only for a Query, an Execute, or the probe', () => {
    expect(producers(BE.DataRow)).toEqual(['execute', 'query', 'search-path']);
    expect(canProduce(undefined, BE.DataRow)).toBe(false);
  });

  it('a RowDescription never for an Execute (its columns come from a Describe)', () => {
    expect(producers(BE.RowDescription)).toEqual(['describe', 'query', 'search-path']);
  });

  it('ReadyForQuery only for what ends a simple Query or a batch', () => {
    expect(producers(BE.ReadyForQuery)).toEqual(['query', 'refused-query', 'search-path', 'sync']);
    expect(canProduce(undefined, BE.ReadyForQuery)).toBe(false);
  });

  it('command completion only for a statement that runs', () => {
    expect(producers(BE.CommandComplete)).toEqual(['execute', 'lock-ahead', 'query', 'search-path']); // lock-ahead: Gatehouse's own DO
    expect(producers(BE.PortalSuspended)).toEqual(['execute']);
    expect(producers(BE.CopyOutResponse)).toEqual(['execute', 'query']);
  });

  it('extended-protocol acknowledgements only for their own message', () => {
    expect(producers(BE.ParseComplete)).toEqual(['lock-ahead', 'parse']);
    expect(producers(BE.BindComplete)).toEqual(['bind', 'lock-ahead']);
    expect(producers(BE.CloseComplete)).toEqual(['close', 'close-statement', 'lock-ahead']);
    expect(producers(BE.NoData)).toEqual(['describe']);
    expect(producers(BE.ParameterDescription)).toEqual(['describe']);
  });

  it('an ErrorResponse for any entry, and with none (a FATAL the server sends on its own)', () => {
    expect(producers(BE.ErrorResponse)).toHaveLength(Object.keys(ENTRY).length);
    expect(canProduce(undefined, BE.ErrorResponse)).toBe(true);
  });

  it('nothing Gatehouse never asks for (fast-path, replication)', () => {
    expect(producers(BE.FunctionCallResponse)).toEqual([]);
    expect(producers(BE.CopyBothResponse)).toEqual([]);
  });
});

describe('statementNameUnsettled: a Parse or Close of the name unanswered, with a Sync after it', () => {
  it('is unsettled only when the latest change of the name has a Sync queued after it', () => {
    expect(queueOf(['parse']).statementNameUnsettled('s')).toBe(false); // same batch: skipped with it if it fails
    expect(queueOf(['parse', 'sync']).statementNameUnsettled('s')).toBe(true);
    expect(queueOf(['close-statement', 'sync', 'bind']).statementNameUnsettled('s')).toBe(true);
    expect(queueOf(['parse', 'sync', 'parse']).statementNameUnsettled('s')).toBe(false); // the latest Parse decides
    expect(queueOf(['parse', 'sync']).statementNameUnsettled('other')).toBe(false);
  });

  it("counts a refusal that dropped the unnamed statement as a change of '' (put back if the server skips it)", () => {
    const dropped = { ...statement, name: '', upstreamName: '' };
    for (const refusal of [
      { kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: dropped },
      { kind: 'refused-query', error: Buffer.alloc(0), shown: false, droppedUnnamed: dropped },
    ] as Pending[]) {
      const q = new PendingQueue();
      q.push(refusal);
      q.push({ kind: 'sync' });
      expect(q.statementNameUnsettled('')).toBe(true);
      q.shift();
      expect(q.statementNameUnsettled('')).toBe(false);
    }
    // Nothing dropped (a refused Bind, or no unnamed statement then): nothing to put back.
    expect(queueOf(['swap-error', 'sync']).statementNameUnsettled('')).toBe(false);
    expect(queueOf(['refused-query', 'sync']).statementNameUnsettled('')).toBe(false);
  });

  it('settles as the entries are answered or dropped', () => {
    const q = queueOf(['parse', 'execute', 'sync', 'close-statement', 'sync']);
    q.shift();
    expect(q.statementNameUnsettled('s')).toBe(true); // the Close is still unanswered
    q.shift();
    q.shift();
    q.dropUntilSync();
    expect(q.statementNameUnsettled('s')).toBe(false);
  });
});

describe('clientWorkInFlight: whether a CancelRequest could stop something of the client upstream (R9-3)', () => {
  it('is false with nothing or only Gatehouse\'s search_path probe unanswered, true with a client message', () => {
    const q = new PendingQueue();
    expect(q.clientWorkInFlight()).toBe(false);
    q.push({ kind: 'search-path', value: null, failed: false });
    expect(q.clientWorkInFlight()).toBe(false);
    q.push({ kind: 'sync' });
    expect(q.clientWorkInFlight()).toBe(true);
    q.shift();
    expect(q.clientWorkInFlight()).toBe(true);
    q.shift();
    expect(q.clientWorkInFlight()).toBe(false);
  });
});

describe('statementsInFlight: a client Query, Execute or Sync unanswered (pg/statement-order.ts, R16-3, R17b-1)', () => {
  it('counts Queries, Executes and Syncs only, as they are pushed, answered and dropped', () => {
    expect(queueOf(['parse', 'bind', 'describe', 'search-path', 'lock-ahead', 'refused-query']).statementsInFlight()).toBe(false);
    const q = queueOf(['parse', 'bind', 'execute', 'query', 'sync']);
    expect(q.statementsInFlight()).toBe(true);
    q.shift();
    q.shift();
    q.shift();
    expect(q.statementsInFlight()).toBe(true); // the Query
    q.shift();
    expect(q.statementsInFlight()).toBe(true); // the Sync: its commit runs deferred checks, which may wait (R17b-1)
    q.shift();
    expect(q.statementsInFlight()).toBe(false);
    const dropped = queueOf(['execute', 'execute', 'sync']);
    dropped.shift();
    dropped.dropUntilSync();
    expect(dropped.statementsInFlight()).toBe(true); // the Sync is left
    dropped.shift();
    expect(dropped.statementsInFlight()).toBe(false);
  });

  it('an error in the LOCK ahead of an Execute skips the Execute with it', () => {
    expect(skipsUntilSync(ENTRY['lock-ahead'])).toBe(true);
  });
});

describe('otherStatementInFlight: a Parse or Bind of another statement naming relations unanswered (pg/statement-order.ts)', () => {
  const s1 = { ...statement, name: 's1', sql: 'SELECT * FROM t' };
  const s2 = { ...statement, name: 's2', sql: 'SELECT * FROM u' };
  const constant = { ...statement, name: 'c', namesNoRelation: true };
  const portal = { name: '', upstreamName: '', statement: s1, fields: null };

  it('counts Parse and Bind entries by their statement, not its own, nor one that names no relation', () => {
    const q = new PendingQueue();
    q.push({ kind: 'parse', statement: s1, replaced: null });
    q.push({ kind: 'bind', portal, previous: null });
    q.push({ kind: 'parse', statement: constant, replaced: null });
    expect(q.otherStatementInFlight(s1)).toBe(false); // its own Parse and Bind do not hold its Bind and Execute
    expect(q.otherStatementInFlight(s2)).toBe(true);
    expect(q.otherStatementInFlight(null)).toBe(true); // a Parse of a new statement
    q.shift();
    expect(q.otherStatementInFlight(s2)).toBe(true); // the Bind of s1
    q.shift();
    expect(q.otherStatementInFlight(s2)).toBe(false); // the Parse of `SELECT 1` waits for no lock
    expect(q.statementsInFlight()).toBe(false);
  });

  it('counts a Describe of a statement (PostgreSQL revalidates it there, R18a-2), not of a portal', () => {
    const q = new PendingQueue();
    q.push({ kind: 'describe', hidden: false, target: portal });
    expect(q.otherStatementInFlight(null)).toBe(false);
    q.push({ kind: 'describe', hidden: false, target: s1 });
    expect(q.otherStatementInFlight(s1)).toBe(false);
    expect(q.otherStatementInFlight(null)).toBe(true);
    q.shift();
    q.shift();
    expect(q.otherStatementInFlight(null)).toBe(false);
  });

  it('entries dropped after an error are no longer counted', () => {
    const q = new PendingQueue();
    q.push({ kind: 'parse', statement: s1, replaced: null });
    q.push({ kind: 'sync' });
    q.dropUntilSync();
    expect(q.otherStatementInFlight(null)).toBe(false);
  });
});

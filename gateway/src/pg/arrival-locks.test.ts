import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import type { DecidedStatement } from '../enforce/decided-statement.ts';
import { RelationCatalog, type RelationInfo } from '../enforce/relation-catalog.ts';
import type { Decision, MaskRule } from '../policy/types.ts';
import { ArrivalLocks, lockReuseSafe, namesNoRelation } from './arrival-locks.ts';
import { newResultContext, PendingQueue, type Portal, type PreparedStatement } from './pending.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], lockable: 'write', ...more };
}

const CATALOG = new RelationCatalog([rel(1, 'people'), rel(2, 'orders'), rel(3, 'people_v', { kind: 'view', reads: ['public.people'] }), rel(4, 'mv', { kind: 'materialized_view', lockable: undefined })], { hash: true });

const MASK: MaskRule = { table: 'public.people', column: 'ssn', strategy: 'redact', policy: 'p' };

/** A statement of `sql` decided `action`, with `masks` (only a `mask` decision has any). */
function decided(sql: string, action: Decision['action'], masks: MaskRule[] = []): { statements: DecidedStatement[]; masks: MaskRule[] } {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  const decision = { action, masks, policies: [], reason: '', id: 'd', engine: 'rego', revision: 'r', evalMicros: 0 } as unknown as Decision;
  return { statements: outcome.statements.map((parsed) => ({ text: sql, parsed, input: null, decision })), masks };
}

describe('namesNoRelation', () => {
  it('true only when no statement reads or writes a relation', () => {
    expect(namesNoRelation(decided('SELECT 1', 'allow'))).toBe(true);
    expect(namesNoRelation(decided('SELECT id FROM people', 'allow'))).toBe(false);
    expect(namesNoRelation(decided('INSERT INTO orders VALUES (1)', 'allow'))).toBe(false);
    expect(namesNoRelation(decided('SELECT * FROM public.f()', 'allow'))).toBe(false); // a SQL function inlined at Bind locks what it reads (R18a-5)
  });
});

describe('ArrivalLocks', () => {
  /** The locks over a host double: what it sent upstream (the first byte of each message) and whether the server is certainly in a failed block. */
  function host(failed = false, pending = new PendingQueue()): { locks: ArrivalLocks; sent: string[] } {
    const sent: string[] = [];
    const locks = new ArrivalLocks({
      pending,
      sendUpstream: (m) => void sent.push(String.fromCharCode(m[0]!)),
      searchPath: () => ['public'],
      relations: () => CATALOG,
      inFailedBlock: () => failed,
      lockName: 'gatehouse_t_lock',
      holdUpstream: () => undefined,
      releaseUpstream: () => undefined,
    });
    return { locks, sent };
  }
  /** A plain read (every test's statement here) gets the prepared block, as beforeParse would decide (lockReuseSafe). */
  const prepared = (sql: string, lockedOnArrival: boolean): PreparedStatement => ({ name: 's', upstreamName: 'u', sql, preparedSql: sql, fields: null, lockedOnArrival, lockPrepared: true });
  /** The unnamed portal of `statement`, as a Bind of it makes. */
  const portalOf = (statement: PreparedStatement): Portal => ({ name: '', upstreamName: '', statement, fields: null });

  it('sends the DO block ahead of a Describe of a statement locked on arrival, once per transaction: not again for its Bind', () => {
    const { locks, sent } = host();
    const s = prepared('SELECT * FROM people_v', true);
    locks.beforeDescribe(s);
    expect(sent).toEqual(['C', 'P', 'B', 'E', 'C']); // the block's statement closed, parsed (pg/lock-statements.ts), bound, run, its portal closed
    locks.beforeBind(s, false, portalOf(s));
    locks.beforeDescribe(s);
    expect(sent).toHaveLength(5);
  });

  it('none for a statement not locked on arrival, nor while the server is certainly in a failed block', () => {
    const a = host();
    a.locks.beforeDescribe(prepared('SELECT * FROM people', false));
    expect(a.sent).toEqual([]);
    const b = host(true);
    b.locks.beforeDescribe(prepared('SELECT * FROM people_v', true));
    expect(b.sent).toEqual([]);
  });

  it('sends it in a failed block with a Query still in flight ahead (a ROLLBACK may end the block before the Describe is read)', () => {
    const pending = new PendingQueue();
    pending.push({ kind: 'query', ctx: newResultContext([], []) });
    const { locks, sent } = host(true, pending);
    locks.beforeDescribe(prepared('SELECT * FROM people_v', true));
    expect(sent).toHaveLength(5);
  });

  it('locks every statement naming a relation ahead of its Parse, masked or not (red-team round 18a, R18a-3), and none naming no relation', () => {
    const { locks, sent } = host();
    const parse = (sql: string, action: Decision['action'], masks: MaskRule[] = []): PreparedStatement => {
      const s = prepared(sql, false);
      locks.beforeParse(s, decided(sql, action, masks), false);
      locks.forwarded({ kind: 'sync' });
      return s;
    };
    expect(parse('SELECT id FROM people JOIN orders USING (id)', 'allow').lockedOnArrival).toBe(true);
    expect(sent).toEqual(['C', 'P', 'B', 'E', 'C']);
    parse('SELECT 1', 'allow');
    expect(sent).toHaveLength(5);
    parse('SELECT id FROM people', 'mask', [MASK]);
    parse('SELECT * FROM people_v', 'allow');
    expect(sent).toHaveLength(15);
  });

  it('a Bind of a statement whose relations were not in the catalog at its Parse is locked once they are', () => {
    let catalog = new RelationCatalog([], { hash: true });
    const sent: string[] = [];
    const locks = new ArrivalLocks({ pending: new PendingQueue(), sendUpstream: (m) => void sent.push(String.fromCharCode(m[0]!)), searchPath: () => ['public'], relations: () => catalog, inFailedBlock: () => false, lockName: 'l', holdUpstream: () => undefined, releaseUpstream: () => undefined });
    const s = prepared('SELECT id FROM people', false);
    locks.beforeParse(s, decided('SELECT id FROM people', 'allow'), false);
    expect(sent).toEqual([]);
    locks.forwarded({ kind: 'sync' });
    catalog = CATALOG;
    locks.beforeBind(s, false, portalOf(s));
    expect(sent).toEqual(['C', 'P', 'B', 'E', 'C']);
  });

  it('a prepared block only for a plain read: a write or a function call gets the one-shot block every time (red-team round 19a, R19a-1)', () => {
    expect(lockReuseSafe(decided('SELECT id FROM people JOIN orders USING (id)', 'allow'))).toBe(true);
    expect(lockReuseSafe(decided('INSERT INTO people (id) VALUES (1)', 'allow'))).toBe(false);
    expect(lockReuseSafe(decided('UPDATE people SET id = 2', 'allow'))).toBe(false);
    expect(lockReuseSafe(decided('WITH d AS (DELETE FROM orders RETURNING id) SELECT id FROM d', 'allow'))).toBe(false);
    expect(lockReuseSafe(decided('SELECT f(id) FROM people', 'allow'))).toBe(false);
    const pending = new PendingQueue();
    const { locks, sent } = host(false, pending);
    const w = prepared('UPDATE people SET id = 2', true);
    locks.beforeParse(w, decided('UPDATE people SET id = 2', 'allow'), false);
    for (let i = 0; i < 2; i++) {
      const entry = pending.shift();
      if (entry?.kind === 'lock-ahead') entry.parsed?.();
      locks.forwarded({ kind: 'sync' });
      locks.beforeBind(w, false, portalOf(w));
    }
    expect(sent.join('')).toBe('CPBECCCPBECCCPBECC');
  });

  it('reuses the prepared block once its Parse is answered, and parses it again after a DEALLOCATE or DISCARD went up, not after a query', () => {
    const pending = new PendingQueue();
    const { locks, sent } = host(false, pending);
    const s = prepared('SELECT id FROM people', true);
    const bind = (): string => {
      const before = sent.length;
      locks.beforeBind(s, false, portalOf(s));
      locks.forwarded({ kind: 'sync' });
      const entry = pending.shift();
      if (entry?.kind === 'lock-ahead') entry.parsed?.();
      return sent.slice(before).join('');
    };
    const execute = (sql: string): void => locks.forwarded({ kind: 'execute', ctx: newResultContext(decided(sql, 'allow').statements, []), portal: null });
    expect(bind()).toBe('CPBEC');
    expect(bind()).toBe('BEC');
    execute('SELECT id FROM orders');
    expect(bind()).toBe('BEC');
    execute('DEALLOCATE ALL');
    expect(bind()).toBe('CPBEC');
    execute('DISCARD ALL');
    expect(bind()).toBe('CPBEC');
    expect(bind()).toBe('BEC');
  });
});

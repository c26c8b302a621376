import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeCacheStats, loadSqlParser } from '../sql/parser.ts';
import { decodeFrontend, encodeBind, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../wire/frontend.ts';
import { MessageFramer } from '../wire/framer.ts';
import { PendingQueue, type PreparedStatement, type ResultContext } from './pending.ts';
import { PortalTable } from './portal-table.ts';
import { parkingFor, stillParked, type OrderView } from './statement-order.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const ctx = (): ResultContext => ({ statements: [], masks: [], detections: [], index: 0, plan: null, columns: null, rows: 0, detected: {} });
const prepared = (name: string, sql: string): PreparedStatement => ({ name, upstreamName: name, sql, preparedSql: sql, fields: null });

function frameOf(raw: Buffer): ReturnType<MessageFramer['next']> & object {
  const f = new MessageFramer(1 << 20);
  f.push(raw);
  return f.next()!;
}

function view(inFlight: boolean): OrderView {
  const pending = new PendingQueue();
  if (inFlight) pending.push({ kind: 'execute', ctx: ctx(), portal: null });
  const statements = new Map([['t', prepared('t', 'SELECT v FROM public.t')], ['one', prepared('one', 'SELECT 1')]]);
  const portals = new PortalTable('gatehouse_test_');
  portals.bind('', statements.get('t')!, []);
  return { pending, statements, portals, searchPath: ['public'] };
}

const park = (raw: Buffer, v: OrderView): string | null => {
  const frame = frameOf(raw);
  return parkingFor(frame, decodeFrontend(frame), v)?.on ?? null;
};

describe('parkingFor: what waits for the statements ahead of it (R16-3)', () => {
  it('a Query, Parse, Bind or Execute naming relations waits while a client statement is unanswered', () => {
    const v = view(true);
    expect(park(encodeQuery('SELECT * FROM public.t'), v)).toBe('statements ahead');
    expect(park(encodeParse({ name: '', sql: 'UPDATE public.t SET v = 1 WHERE id = 2', paramTypes: [] }), v)).toBe('statements ahead');
    expect(park(encodeBind({ portal: '', statement: 't', paramFormats: [], params: [], resultFormats: [] }), v)).toBe('statements ahead');
    expect(park(encodeExecute('', 0), v)).toBe('statements ahead');
  });

  it('nothing waits with no statement in flight, nor a statement naming no relation, nor a Sync', () => {
    expect(park(encodeQuery('SELECT * FROM public.t'), view(false))).toBeNull();
    expect(park(encodeExecute('', 0), view(false))).toBeNull();
    const v = view(true);
    expect(park(encodeQuery('SELECT 1'), v)).toBeNull();
    expect(park(encodeBind({ portal: '', statement: 'one', paramFormats: [], params: [], resultFormats: [] }), v)).toBeNull();
    expect(park(encodeSync(), v)).toBeNull();
  });

  it('a text of several statements waits without being analysed (its facts are extracted in slices by the decision: R18c-1)', () => {
    const v = view(true);
    const before = analyzeCacheStats();
    expect(park(encodeQuery('SELECT 1; SELECT 2 AS r18c_unit'), v)).toBe('statements ahead');
    expect(park(encodeQuery(Array.from({ length: 1001 }, (_, i) => `SELECT ${i} AS r18c_unit`).join(';')), v)).toBe('statements ahead');
    expect(analyzeCacheStats().misses).toBe(before.misses);
    expect(park(encodeQuery('SELECT 1; SELECT 2'), view(false))).toBeNull();
  });

  it('what does not parse waits too (it is decided, and refused, in order)', () => {
    expect(park(encodeQuery('SELEC oops'), view(true))).toBe('statements ahead');
  });

  it('stops waiting when the statements ahead are answered', () => {
    const v = view(true);
    const frame = frameOf(encodeQuery('SELECT * FROM public.t'));
    const parked = parkingFor(frame, decodeFrontend(frame), v)!;
    expect(stillParked(parked, v.pending)).toBe(true);
    v.pending.shift();
    expect(stillParked(parked, v.pending)).toBe(false);
  });
});

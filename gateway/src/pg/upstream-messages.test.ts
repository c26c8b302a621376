import { describe, expect, it } from 'vitest';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { decodeBind, encodeBind, encodeClose, encodeDescribe, encodeExecute, encodeQuery, type BindMessage } from '../wire/frontend.ts';
import type { Portal, PreparedStatement } from './pending.ts';
import { bindUpstream, closeUpstream, describeUpstream, executeUpstream, queryUpstream, unknownStatement } from './upstream-messages.ts';

const statement = (name: string, upstreamName: string, subjects: PreparedStatement['subjects'] = null): PreparedStatement => ({
  name,
  upstreamName,
  sql: 'SELECT 1',
  preparedSql: 'SELECT 1',
  fields: null,
  subjects,
});
const portal = (name: string, upstreamName: string, s: PreparedStatement): Portal => ({ name, upstreamName, statement: s, fields: null });
const bind = (m: Partial<BindMessage>): BindMessage => ({ portal: '', statement: '', paramFormats: [], params: [], resultFormats: [], ...m });

describe('bindUpstream', () => {
  it("sends the client's own bytes when nothing is renamed or added", () => {
    const msg = bind({ resultFormats: [1] });
    const raw = encodeBind(msg);
    const s = statement('', '');
    expect(bindUpstream(msg, raw, s, portal('', '', s))).toBe(raw);
  });

  it('names the statement and portal as Gatehouse prepared them upstream', () => {
    const msg = bind({ portal: 'p', statement: 's1', params: [Buffer.from('7')] });
    const s = statement('s1', 'gh_x_1');
    const out = decodeBind(bindUpstream(msg, encodeBind(msg), s, portal('p', 'gh_x_p1', s)).subarray(5));
    expect(out).toMatchObject({ statement: 'gh_x_1', portal: 'gh_x_p1', resultFormats: [] });
    expect(out.params.map((p) => p?.toString())).toEqual(['7']);
  });

  it('appends text formats for hidden subject columns when the client gave one per column', () => {
    const s = statement('', '', { hidden: ['clinical.patients', 'clinical.visits'], returningAdded: false, unknown: {} });
    const perColumn = bind({ resultFormats: [1, 0] });
    expect(decodeBind(bindUpstream(perColumn, encodeBind(perColumn), s, portal('', '', s)).subarray(5)).resultFormats).toEqual([1, 0, 0, 0]);
    const forAll = bind({ resultFormats: [1] });
    const raw = encodeBind(forAll);
    expect(bindUpstream(forAll, raw, s, portal('', '', s))).toBe(raw);
  });

  it('sends no result formats for a RETURNING only Gatehouse added', () => {
    const s = statement('', '', { hidden: ['clinical.patients'], returningAdded: true, unknown: {} });
    const msg = bind({ resultFormats: [1] });
    expect(decodeBind(bindUpstream(msg, encodeBind(msg), s, portal('', '', s)).subarray(5)).resultFormats).toEqual([]);
  });
});

describe('describe, close and execute upstream', () => {
  it('rename only what Gatehouse renamed', () => {
    const raw = encodeDescribe('S', 'mine');
    expect(describeUpstream('S', 'mine', 'mine', raw)).toBe(raw);
    expect(describeUpstream('P', 'mine', 'gh_p2', raw).equals(encodeDescribe('P', 'gh_p2'))).toBe(true);
    const close = encodeClose('S', 'mine');
    expect(closeUpstream('S', 'mine', 'mine', close)).toBe(close);
    expect(closeUpstream('S', 'mine', 'gh_3', close).equals(encodeClose('S', 'gh_3'))).toBe(true);
  });

  it('runs a statement whose whole RETURNING Gatehouse added without a row limit', () => {
    const raw = encodeExecute('', 5);
    const plain = statement('', '');
    expect(executeUpstream(portal('', '', plain), '', 5, raw)).toBe(raw);
    const added = statement('', '', { hidden: ['clinical.patients'], returningAdded: true, unknown: {} });
    expect(executeUpstream(portal('', '', added), '', 5, raw).equals(encodeExecute('', 0))).toBe(true);
    expect(executeUpstream(portal('p', 'gh_p1', plain), 'p', 5, encodeExecute('p', 5)).equals(encodeExecute('gh_p1', 5))).toBe(true);
  });

  it('an unknown statement is 26000', () => {
    expect(unknownStatement('nope').sqlstate).toBe('26000');
  });
});

describe('queryUpstream', () => {
  const lock: LockPrefix = { text: 'LOCK TABLE public.t IN ACCESS SHARE MODE; ', statements: 1, chars: 42, relations: ['public.t'] };
  const raw = encodeQuery('SELECT * FROM t');

  it("sends the client's bytes, or the rewrite, each after the lock prefix when there is one", () => {
    expect(queryUpstream(raw, null, null)).toBe(raw);
    expect(queryUpstream(raw, 'SELECT * FROM masked_t', null).equals(encodeQuery('SELECT * FROM masked_t'))).toBe(true);
    expect(queryUpstream(raw, null, lock).equals(encodeQuery(`${lock.text}SELECT * FROM t`))).toBe(true);
    expect(queryUpstream(raw, 'SELECT * FROM masked_t', lock).equals(encodeQuery(`${lock.text}SELECT * FROM masked_t`))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeFrontend } from '../wire/frontend.ts';
import { answeredByGatehouse, REFUSAL_QUERY, refusedExtendedUpstream, refusedFunctionCallUpstream, refusedQueryUpstream } from './refusals-in-order.ts';
import type { PreparedStatement } from './pending.ts';

const error = Buffer.from('E-the-refusal');
const decoded = (raw: Buffer) => decodeFrontend({ type: raw[0]!, body: raw.subarray(5), raw });
const unnamed: PreparedStatement = { name: '', upstreamName: '', sql: 'SELECT 1', preparedSql: 'SELECT 1', fields: null };

describe('answeredByGatehouse', () => {
  it('only when nothing is owed, no transaction block is open and no batch waits for its Sync', () => {
    expect(answeredByGatehouse(0, 'I', false)).toBe(true);
    expect(answeredByGatehouse(0, 'E', false)).toBe(true);
    expect(answeredByGatehouse(1, 'I', false)).toBe(false);
    expect(answeredByGatehouse(0, 'T', false)).toBe(false);
    expect(answeredByGatehouse(0, 'I', true)).toBe(false);
  });
});

describe('in place of a refused message', () => {
  it('a simple Query goes up as REFUSAL_QUERY, its error shown in place of upstream', () => {
    const r = refusedQueryUpstream(error, unnamed);
    expect(decoded(r.message)).toEqual({ type: 'query', sql: REFUSAL_QUERY });
    expect(r.expect).toEqual({ kind: 'refused-query', error, shown: false, droppedUnnamed: unnamed });
  });

  it('a FunctionCall goes up as a FunctionCall of OID 0 (no function), answered like a Query, the unnamed statement kept', () => {
    const r = refusedFunctionCallUpstream(error);
    expect(decoded(r.message)).toEqual({ type: 'functionCall', oid: 0 });
    expect(r.expect).toEqual({ kind: 'refused-query', error, shown: false, droppedUnnamed: null });
  });

  it('an extended message goes up as a Bind of a statement that does not exist', () => {
    const r = refusedExtendedUpstream(error, null);
    expect(decoded(r.message)).toMatchObject({ type: 'bind', portal: '', statement: expect.stringMatching(/^gatehouse\.denied\./) });
    expect(r.expect).toEqual({ kind: 'swap-error', error, droppedUnnamed: null });
  });

  it('a Parse of the unnamed statement goes up as a Parse of it that cannot parse (dropping it upstream too)', () => {
    const r = refusedExtendedUpstream(error, { dropped: unnamed });
    expect(decoded(r.message)).toMatchObject({ type: 'parse', name: '', sql: 'gatehouse refused this statement' });
    expect(r.expect).toEqual({ kind: 'swap-error', error, droppedUnnamed: unnamed });
  });
});

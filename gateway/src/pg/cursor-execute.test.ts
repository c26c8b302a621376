import { beforeAll, describe, expect, it } from 'vitest';
import type { DecidedStatement, QueryDecision } from '../enforce/decided-statement.ts';
import { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { admitCursorExecute, cursorFetchText } from './cursor-execute.ts';
import { cursorUse } from './cursor-names.ts';

beforeAll(() => loadSqlParser());

/** The FETCH a cursor Execute amounts to, decided `decision` under revision r. */
function fetch(name: string, maxRows: number, decision: Partial<Decision> = {}): DecidedStatement {
  const outcome = analyzeQuery(cursorFetchText(name, maxRows));
  if (!outcome.ok) throw new Error(outcome.error);
  const parsed = outcome.statements[0]!;
  return { text: parsed.text, parsed, input: null, decision: { action: 'allow', reason: 'ok', policies: [], masks: [], id: 'd-1', engine: 'rego', revision: 'r', evalMicros: 0, ...decision } as Decision };
}
const forward = (s: DecidedStatement): QueryDecision => ({ kind: 'forward', statements: [s], masks: s.decision.action === 'mask' ? s.decision.masks : [], forwardText: null, lockPrefix: null });
const known = { unresolved: () => null };
const open = { refusal: () => null };

describe('cursorFetchText', () => {
  it('is the FETCH of the exact name (not case folded) with the row limit, or of every row left without one', () => {
    expect(cursorFetchText('C_1', 2)).toBe('FETCH FORWARD 2 FROM "C_1"');
    expect(cursorFetchText('c', 0)).toBe('FETCH ALL FROM "c"');
    expect(cursorFetchText('c', -1)).toBe('FETCH ALL FROM "c"');
    // Read back by the parser as the same cursor name, quotes included.
    expect(cursorUse(fetch('a"b C', 5).parsed!)).toEqual({ name: 'a"b C', declares: false });
    // The unnamed portal has no SQL name (never a cursor).
    expect(analyzeQuery(cursorFetchText('', 1)).ok).toBe(false);
  });
});

describe('admitCursorExecute', () => {
  it('forwards an allowed FETCH of a cursor', () => {
    const s = fetch('c', 2);
    expect(admitCursorExecute(forward(s), 'c', null, known, open)).toMatchObject({ kind: 'forward', statements: [s], masks: [] });
  });

  it("refuses a name refused anyway with that name's error, whatever the decision", () => {
    const unknown = new GatehouseError('UNKNOWN_PORTAL', 'portal "x" does not exist');
    const s = fetch('x', 1);
    expect(admitCursorExecute(forward(s), 'x', unknown, known, open)).toEqual({ kind: 'refuse', statements: [s], error: unknown, pathUnknown: false });
    const denied: QueryDecision = { kind: 'refuse', statements: [s], error: new GatehouseError('POLICY_DENIED', 'no') };
    expect(admitCursorExecute(denied, 'x', unknown, known, open)).toMatchObject({ kind: 'refuse', error: unknown });
  });

  it("keeps the policy's refusal, and refuses what the checks of every statement refuse (a cursor of an older revision: 40001)", () => {
    const s = fetch('c', 1);
    const denied = new GatehouseError('POLICY_DENIED', 'no');
    expect(admitCursorExecute({ kind: 'refuse', statements: [s], error: denied }, 'c', null, known, open)).toMatchObject({ kind: 'refuse', error: denied });
    const stale = new GatehouseError('POLICY_CHANGED_FOR_CURSOR', 'changed');
    expect(admitCursorExecute(forward(s), 'c', null, known, { refusal: () => stale })).toMatchObject({ kind: 'refuse', error: stale });
    // A reserved name inside the FETCH is refused by those checks too (42939).
    expect(admitCursorExecute(forward(fetch('gatehouse_1_c1', 1)), 'gatehouse_1_c1', null, known, open)).toMatchObject({ kind: 'refuse', error: { sqlstate: '42939' } });
  });

  it('refuses a FETCH whose decision asks for masks or content detection: rows read by Execute come without their columns (0A000)', () => {
    const masked = fetch('c', 1, { action: 'mask', masks: [{ table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'p' }] });
    expect(admitCursorExecute(forward(masked), 'c', null, known, open)).toMatchObject({ kind: 'refuse', error: { sqlstate: '0A000', decisionId: 'd-1' } });
    const scanned = fetch('c', 1, { action: 'mask', masks: [], detections: [{ table: 'clinical.notes', column: 'body', detectors: ['ssn'], policies: ['p'] }] } as Partial<Decision>);
    expect(admitCursorExecute(forward(scanned), 'c', null, known, open)).toMatchObject({ kind: 'refuse', error: { sqlstate: '0A000' } });
  });
});

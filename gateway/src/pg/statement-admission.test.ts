import { describe, expect, it } from 'vitest';
import type { DecidedStatement, QueryDecision } from '../enforce/decided-statement.ts';
import { GatehouseError } from '../errors.ts';
import { admit, cancelledWait } from './statement-admission.ts';

const statement: DecidedStatement = {
  text: 'SELECT 1',
  parsed: null,
  input: null,
  decision: { action: 'allow', reason: 'ok', policies: [], masks: [], id: 'd-1', engine: 'rego', revision: 'r', evalMicros: 0 },
};
const forward: QueryDecision = { kind: 'forward', statements: [statement], masks: [], forwardText: null, lockPrefix: null };
const known = { unresolved: () => null };
const open = { refusal: () => null };

describe('admit', () => {
  it('keeps a refusal as it is (the search path was not the reason)', () => {
    const error = new GatehouseError('POLICY_DENIED', 'denied');
    const d = admit({ kind: 'refuse', statements: [statement], error }, known, open);
    expect(d).toEqual({ kind: 'refuse', statements: [statement], error, pathUnknown: false });
  });

  it('refuses a statement whose names cannot be resolved yet, saying the path must be asked again', () => {
    const unknown = new GatehouseError('FEATURE_NOT_SUPPORTED', 'search_path unknown');
    const d = admit(forward, { unresolved: () => unknown }, open);
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') {
      expect(d.pathUnknown).toBe(true);
      expect(d.error.sqlstate).toBe('0A000');
    }
  });

  it('forwards an allowed statement with its masks, text and lock prefix, declaring no cursor', () => {
    const d = admit(forward, known, open);
    expect(d).toEqual({ kind: 'forward', statements: [statement], masks: [], cursors: [], forwardText: null, lockPrefix: null });
  });
});

describe('cancelledWait', () => {
  it('is 57014, as a cancelled statement in PostgreSQL', () => {
    expect(cancelledWait().sqlstate).toBe('57014');
  });
});

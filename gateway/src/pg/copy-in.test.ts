import { beforeAll, describe, expect, it } from 'vitest';
import type { DecidedStatement } from '../enforce/decided-statement.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { WireError } from '../wire/wire-error.ts';
import { CopyInTracker } from './copy-in.ts';
import type { ResultContext } from './pending.ts';

/** The context of a request of `sql`, its statements parsed by PostgreSQL's parser. */
function request(sql: string): ResultContext {
  const outcome = analyzeQuery(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  const statements = outcome.statements.map(
    (parsed): DecidedStatement => ({
      text: sql,
      parsed,
      input: null,
      decision: { action: 'allow', reason: 'ok', policies: [], masks: [], id: 'd', engine: 'rego', revision: 'r', evalMicros: 0 },
    }),
  );
  return { statements, masks: [], detections: [], index: 0, plan: null, columns: null, rows: 0, detected: {} };
}

describe('CopyInTracker', () => {
  beforeAll(async () => {
    await loadSqlParser();
  });

  it('a request without COPY FROM STDIN changes nothing; COPY TO STDOUT neither', () => {
    const copy = new CopyInTracker();
    copy.forwarded(request('SELECT 1; COPY t TO STDOUT'));
    expect(copy.state).toBeNull();
  });

  it('holds the client from the request until the server starts copying, then until CopyDone', () => {
    const copy = new CopyInTracker();
    const ctx = request('COPY t FROM STDIN');
    copy.forwarded(ctx);
    expect(copy.state).toBe('starting');
    expect(copy.started(request('COPY t FROM STDIN'))).toBe(false); // another request's answer
    expect(copy.started(ctx)).toBe(true);
    expect(copy.state).toBe('active');
    expect((['copyData', 'sync', 'flush', 'terminate'] as const).map((t) => copy.clientMessage(t))).toEqual(['forward', 'drop', 'drop', 'terminate']);
    expect(copy.clientMessage('copyDone')).toBe('forward');
    expect(copy.state).toBeNull();
  });

  it('two COPY FROM STDIN in one Query: after the first CopyDone the second is awaited', () => {
    const copy = new CopyInTracker();
    const ctx = request('COPY a FROM STDIN; COPY b FROM STDIN');
    copy.forwarded(ctx);
    copy.started(ctx);
    expect(copy.clientMessage('copyFail')).toBe('forward');
    expect(copy.state).toBe('starting');
    expect(copy.ended(ctx)).toBe(true);
    expect(copy.state).toBeNull();
  });

  it('any other message during the copy is a protocol violation', () => {
    const copy = new CopyInTracker();
    const ctx = request('COPY t FROM STDIN');
    copy.forwarded(ctx);
    copy.started(ctx);
    expect(() => copy.clientMessage('query')).toThrow(WireError);
  });
});

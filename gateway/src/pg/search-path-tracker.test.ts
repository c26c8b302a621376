import { beforeAll, describe, expect, it } from 'vitest';
import type { DecidedStatement } from '../enforce/decided-statement.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { SearchPathTracker } from './search-path-tracker.ts';

beforeAll(loadSqlParser);

/** The statements of `sql` as the decision point hands them over (only their facts matter here). */
function decided(sql: string): DecidedStatement[] {
  const outcome = analyzeQuery(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements.map((parsed) => ({ text: parsed.text, parsed, input: null, decision: null as never }));
}

const answer = (setting: string, searched = ['pg_catalog', 'public'], reason: string | null = null) => JSON.stringify([setting, searched, 'gatehouse', reason]);

describe('SearchPathTracker', () => {
  it('asks at the start and refuses unqualified names until the answer is in', () => {
    const t = new SearchPathTracker();
    expect(t.unresolved(decided('SELECT * FROM patients'))?.sqlstate).toBe('0A000');
    expect(t.unresolved(decided('SELECT * FROM clinical.patients'))).toBeNull();
    expect(t.takeProbe()).toBe(true);
    expect(t.takeProbe()).toBe(false);
    expect(t.probed(answer('pg_catalog, clinical', ['pg_catalog', 'clinical']), 'I')).toEqual(['pg_catalog', 'clinical']);
    expect(t.unresolved(decided('SELECT * FROM patients'))).toBeNull();
  });

  it('a failed answer leaves the path unknown and the probe due again', () => {
    const t = new SearchPathTracker();
    t.takeProbe();
    expect(t.probed(null, 'E')).toBeNull();
    expect(t.unresolved(decided('SELECT * FROM patients'))).not.toBeNull();
    expect(t.takeProbe()).toBe(true);
    expect(t.probed('{public}', 'I')).toBeNull(); // not the probe's shape
    expect(t.probed(answer(''), 'I')).toEqual(['pg_catalog']);
  });

  it('a statement that may change the path makes it stale, and later unqualified names in its string unresolved', () => {
    const t = new SearchPathTracker();
    t.takeProbe();
    t.probed(answer('clinical', ['pg_catalog', 'clinical']), 'I');
    expect(t.unresolved(decided('SET search_path = public; SELECT * FROM visits'))?.sqlstate).toBe('0A000');
    expect(t.unresolved(decided('SELECT * FROM visits; SET search_path = public'))).toBeNull();
    t.noteForwarded(decided('SELECT 1'));
    expect(t.takeProbe()).toBe(false);
    t.noteForwarded(decided("SELECT pg_catalog.set_config('search_path', 'public', false)"));
    expect(t.unresolved(decided('SELECT * FROM visits'))).not.toBeNull(); // e.g. later in the same extended batch
    expect(t.takeProbe()).toBe(true);
  });

  it('the end of a transaction in which the path was read may undo it', () => {
    const t = new SearchPathTracker();
    t.takeProbe();
    t.probed(answer('clinical', ['pg_catalog', 'clinical']), 'T');
    expect(t.unresolved(decided('COMMIT; SELECT * FROM visits'))).not.toBeNull();
    t.noteForwarded(decided('COMMIT'));
    expect(t.takeProbe()).toBe(true);
    t.probed(answer('clinical', ['pg_catalog', 'clinical']), 'I');
    t.noteForwarded(decided('COMMIT'));
    expect(t.takeProbe()).toBe(false);
  });

  it('asks again after a SET of gatehouse.reason, without refusing unqualified names behind it, and keeps what the server said', () => {
    const t = new SearchPathTracker();
    t.takeProbe();
    t.probed(answer('public', ['pg_catalog', 'public'], 'ticket 1'), 'I');
    expect(t.reason()).toBe('ticket 1');
    expect(t.unresolved(decided("SET gatehouse.reason = 'x'; SELECT * FROM visits"))).toBeNull();
    t.noteForwarded(decided("SET gatehouse.reason = 'x'"));
    expect(t.takeProbe()).toBe(true);
    t.probed(answer('public', ['pg_catalog', 'public'], 'x'), 'I');
    expect(t.reason()).toBe('x');
    t.noteForwarded(decided('RESET gatehouse.reason'));
    expect(t.takeProbe()).toBe(true);
  });
});

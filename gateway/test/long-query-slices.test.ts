// Issue 11 item 3: a simple Query of many statements is parsed, decided and audited in slices, so
// another session is served while it is decided. The order is observed, not durations: the other
// session's Query is sent from inside the long Query's decision (its first decision-cache lookup,
// in the gateway's own turn), so it reaches the gateway after the long Query was received; its
// statement record must come before the long Query's first, and its answer before the long Query's.
// Without the slices both fail: the long Query is decided, audited and forwarded in that one turn.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionCache } from '../src/enforce/decision-cache.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import type { EngineVerdict } from '../src/policy/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

/** The gateway's decision cache, which calls `onLookup` at its next lookup (once). */
class ObservedCache extends DecisionCache {
  onLookup: (() => void) | null = null;
  override get(revision: string, key: string): EngineVerdict | null {
    const hook = this.onLookup;
    this.onLookup = null;
    hook?.();
    return super.get(revision, key);
  }
}

/** 1,000 statements (the default limit), literals distinct from any other run's. */
const longQuery = (salt: number): string => Array.from({ length: 1000 }, (_, i) => `SELECT ${salt * 1000 + i} AS n`).join(';');

describe.each(['rego', 'cedar'] as const)('a long Query is decided in slices (%s)', (engine) => {
  let t: TestGateway;
  let cache: ObservedCache;
  let long: pg.Client;
  let other: pg.Client;

  beforeAll(async () => {
    cache = new ObservedCache();
    t = await startTestGateway({ engine, decisionCache: cache });
    long = await t.client(await t.token('long-query@example.com', ['agents']));
    other = await t.client(await t.token('bystander@example.com', ['agents']));
    // Warm: the other identity's statement is decided from the cache, the long one's code paths are compiled.
    for (let i = 0; i < 3; i++) expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await long.query(longQuery(1));
  });
  afterAll(async () => t?.close());

  it("serves another session's SELECT 1, sent once the long Query is being decided, before the long Query is answered", async () => {
    const before = t.audit().length;
    const events: string[] = [];
    let sent: Promise<pg.QueryResult> | null = null;
    cache.onLookup = () => {
      // In the gateway's turn deciding the long Query: the other Query is written to its socket now.
      sent = other.query('SELECT 1 AS one').then((r) => {
        events.push('other answered');
        return r;
      });
    };
    const answered = long.query(longQuery(2)).then((r) => {
      events.push('long answered');
      return r;
    });
    const [longResult] = await Promise.all([answered, new Promise<void>((r) => setImmediate(r))]);
    expect(sent).not.toBeNull();
    const otherResult = await sent!;
    expect(otherResult.rows).toEqual([{ one: 1 }]);
    expect(Array.isArray(longResult) ? longResult.length : 1).toBe(1000);
    expect(events).toEqual(['other answered', 'long answered']);
    // The other session's statement record is written before any of the long Query's (the records
    // carry no literal values: told apart by identity).
    const by = (subject: string) => (r: AuditRecord) => r.type === 'statement' && r.identity?.subject === subject;
    const records = await t.auditUntil((rs) => rs.slice(before).filter(by('long-query@example.com')).length === 1000);
    const fresh = records.slice(before);
    expect(fresh.filter(by('long-query@example.com'))).toHaveLength(1000);
    expect(fresh.filter(by('bystander@example.com'))).toHaveLength(1);
    expect(fresh.findIndex(by('bystander@example.com'))).toBeLessThan(fresh.findIndex(by('long-query@example.com')));
  });
});

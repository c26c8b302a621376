// After a statement's policy evaluation is stopped over its budget, the same identity's statements
// of that shape are refused without evaluation for policies.eval_cooldown_ms (57014, audited with
// policy gatehouse.evaluation_cooldown), while another identity's statements of the same shape, and
// the same identity's other shapes, are decided as usual (policy/eval-admission.ts; R7-5 stays
// answered: nobody else inherits the refusal). Through a real Gatehouse with real PostgreSQL.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit, recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { examplePoliciesLoopingOn } from './support/looping-policy.ts';

async function outcome(c: pg.Client, sql: string): Promise<{ code: string | null; message: string }> {
  try {
    await c.query(sql);
    return { code: null, message: '' };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { code: err.code ?? null, message: err.message };
  }
}

describe('an identity’s shape that overran its evaluation budget cools down', () => {
  let t: TestGateway;
  // Loops (seconds to minutes of CPU) only for statements that mention cooldown_marker.
  const policiesDir = examplePoliciesLoopingOn('cooldown_marker');

  beforeAll(async () => {
    // A cool-down far longer than the test: it is not waited out. A preallocated durable log (the
    // records of a turn written at its end): the refusals' records must be in the file when the
    // client hears them (Session.flushClient writes them first; without that, the last one was missing).
    t = await startTestGateway({ policiesDir, evalTimeoutMs: 200, evalCooldownMs: 600_000, audit: { fsync: true, preallocate_bytes: 1 << 20 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses the same identity’s statements of that shape without evaluating them, and nobody else’s', async () => {
    const mallory = await t.client(await t.token('cooldown-mallory', ['agents']));
    const malloryAgain = await t.client(await t.token('cooldown-mallory', ['agents']));
    const alice = await t.client(await t.token('cooldown-alice', ['agents']));

    const stopped = await outcome(mallory, "SELECT 'cooldown_marker' AS probe");
    expect(stopped.code).toBe('57014');
    expect(stopped.message).toContain('200 ms of CPU time');

    // Same identity, same shape (other literals, another session): refused at once, not evaluated.
    for (const [c, sql] of [
      [mallory, "SELECT 'cooldown_marker' AS probe"],
      [malloryAgain, "SELECT 'harmless' AS probe"],
    ] as const) {
      const refused = await outcome(c, sql);
      expect(refused.code).toBe('57014');
      expect(refused.message).toContain('without evaluating it');
      expect(refused.message).toContain('policies.eval_cooldown_ms');
    }
    // The same identity's other shapes are decided as usual. (PostgreSQL's fingerprint ignores
    // literals, aliases and comments: even `SELECT 1 AS n, 2 AS m` has the shape of the ones above.)
    expect((await mallory.query('SELECT id FROM clinical.visits ORDER BY id LIMIT 1')).rowCount).toBe(1);
    // Another identity's statement of the same shape is decided as usual (R7-5), its own runaway too.
    expect((await alice.query("SELECT 'harmless' AS probe")).rows).toEqual([{ probe: 'harmless' }]);
    const own = await outcome(alice, "SELECT 'cooldown_marker' AS probe");
    expect(own.code).toBe('57014');
    expect(own.message).toContain('200 ms of CPU time');

    const records = readAudit(t.auditFile).filter((r) => r.type === 'statement' && r.statement === recorded("SELECT 'x' AS probe"));
    expect(records.map((r) => (r.type === 'statement' ? [r.identity?.subject, r.decision, r.policies] : null))).toEqual([
      ['cooldown-mallory', 'deny', ['gatehouse.evaluation_budget']],
      ['cooldown-mallory', 'deny', ['gatehouse.evaluation_cooldown']],
      ['cooldown-mallory', 'deny', ['gatehouse.evaluation_cooldown']],
      ['cooldown-alice', 'allow', expect.any(Array)],
      ['cooldown-alice', 'deny', ['gatehouse.evaluation_budget']],
    ]);
  });
});

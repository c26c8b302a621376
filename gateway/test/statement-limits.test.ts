// Bounded work per message: one Query of 40,000 short statements (509 KB, what took the Cedar
// gateway down and stalled the Rego one) and SQL texts over a megabyte are refused with 54000
// before they are parsed or decided, audited, and the session and every other session go on.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

const HOSTILE = Array.from({ length: 40_000 }, (_, i) => `SELECT ${i}`).join(';');

describe.each(['rego', 'cedar'] as const)('statement limits (%s)', (engine) => {
  let t: TestGateway;
  let agent: pg.Client;
  let bystander: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    const token = await t.token('limits@example.com', ['agents']);
    agent = await t.client(token);
    bystander = await t.client(token);
  });
  afterAll(async () => t?.close());

  it('refuses the 40,000-statement Query with 54000 naming the limit, audits it, and the process serves on', async () => {
    expect(HOSTILE.length).toBeGreaterThan(500_000);
    const error = await agent.query(HOSTILE).then(
      () => null,
      (e: { code?: string; message?: string }) => e,
    );
    expect(error?.code).toBe('54000');
    expect(error?.message).toContain('limits.max_statements_per_query');
    // The same session and another one are served.
    expect((await agent.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await bystander.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('max_statements_per_query')));
    const record = records.find((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('max_statements_per_query'));
    expect(record?.type === 'statement' && record.statement.length).toBeLessThan(1100);
    const outcome = records.find((r) => r.type === 'outcome' && record?.type === 'statement' && r.decision_id === record.decision_id);
    expect(outcome?.type === 'outcome' && outcome.outcome).toMatchObject({ status: 'refused', sqlstate: '54000' });
  });

  it('runs a Query of exactly the limit (1,000 statements)', async () => {
    const sql = Array.from({ length: 1000 }, (_, i) => `SELECT ${i} AS n`).join(';');
    const results = (await agent.query(sql)) as unknown as pg.QueryResult[];
    expect(results).toHaveLength(1000);
    expect(results[999]!.rows).toEqual([{ n: 999 }]);
  });

  it('refuses a SQL text over limits.max_statement_bytes, in a Query and in a Parse', async () => {
    const literal = `SELECT length('${'x'.repeat(2 * 1024 * 1024)}')`;
    expect(await sqlstateOf(agent, literal)).toBe('54000');
    expect(await sqlstateOf(agent, `${literal} WHERE $1::int = 1`, [1])).toBe('54000');
    // Within the limit, the same value as a parameter runs.
    const ok = await agent.query('SELECT length($1::text) AS n', ['x'.repeat(2 * 1024 * 1024)]);
    expect(ok.rows).toEqual([{ n: 2 * 1024 * 1024 }]);
  });
});

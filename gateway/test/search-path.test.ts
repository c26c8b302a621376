// Unqualified table names are qualified the way PostgreSQL resolves them, also after the client
// changes search_path (SET, SET LOCAL in a rolled-back transaction, set_config()).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

describe('search_path following', () => {
  let t: TestGateway;
  let agent: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway();
    agent = await t.client(await t.token('agent-path', ['agents']));
  });
  afterAll(async () => t?.close());

  /** The tables the audit record of the latest run of `sql` says it read. */
  async function tablesRead(sql: string): Promise<string[]> {
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.statement === sql));
    const mine = records.filter((r): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === sql);
    return mine.at(-1)?.input?.statement.tables_read ?? [];
  }

  it('resolves unqualified names against the startup search_path (public) at first', async () => {
    expect(await sqlstateOf(agent, 'SELECT ssn FROM patients LIMIT 1')).toBe('42501');
    expect(await tablesRead('SELECT ssn FROM patients LIMIT 1')).toEqual(['public.patients']);
  });

  it('follows SET search_path: the next statement reads clinical.patients, masked', async () => {
    await agent.query('SET search_path = clinical, public');
    const rows = (await agent.query('SELECT ssn FROM patients ORDER BY id LIMIT 2')).rows;
    expect(rows).toEqual([{ ssn: '***' }, { ssn: '***' }]);
    expect(await tablesRead('SELECT ssn FROM patients ORDER BY id LIMIT 2')).toEqual(['clinical.patients']);
  });

  it('follows a SET LOCAL that a ROLLBACK undoes', async () => {
    await agent.query('RESET search_path');
    await agent.query('BEGIN');
    await agent.query('SET LOCAL search_path = clinical');
    expect((await agent.query('SELECT count(*)::int AS n FROM visits')).rows[0].n).toBeGreaterThan(0);
    await agent.query('ROLLBACK');
    expect(await sqlstateOf(agent, 'SELECT count(*) FROM visits')).toBe('42501');
    expect(await tablesRead('SELECT count(*) FROM visits')).toEqual(['public.visits']);
  });

  it('follows set_config() sent through the extended protocol', async () => {
    await agent.query('SELECT set_config($1, $2, false)', ['search_path', 'clinical']);
    const rows = (await agent.query('SELECT first_name FROM patients WHERE id = $1', [1])).rows;
    expect(rows).toEqual([{ first_name: '***' }]);
    expect(await tablesRead('SELECT first_name FROM patients WHERE id = $1')).toEqual(['clinical.patients']);
  });
});

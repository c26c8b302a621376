// Unqualified table names are resolved to every table PostgreSQL may read for them, on the search
// path the server reports: at session start (whatever set it) and after the client changes it
// (SET, SET LOCAL in a rolled-back transaction, set_config()).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, type TestGateway, recorded } from './support/harness.ts';
import { errorCodes, rowsOf, serialize, WireClient } from './support/wire-client.ts';

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
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.statement === recorded(sql)));
    const mine = records.filter((r): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === recorded(sql));
    return mine.at(-1)?.input?.statement.tables_read ?? [];
  }

  it('resolves unqualified names against the startup search_path (public) at first', async () => {
    expect(await sqlstateOf(agent, 'SELECT ssn FROM patients LIMIT 1')).toBe('42501');
    expect(await tablesRead('SELECT ssn FROM patients LIMIT 1')).toEqual(['public.patients']);
  });

  it('follows SET search_path: the next statement reads clinical.patients, masked', async () => {
    await agent.query('SET search_path = clinical');
    const rows = (await agent.query('SELECT ssn FROM patients ORDER BY id LIMIT 2')).rows;
    expect(rows).toEqual([{ ssn: '***' }, { ssn: '***' }]);
    expect(await tablesRead('SELECT ssn FROM patients ORDER BY id LIMIT 2')).toEqual(['clinical.patients']);
  });

  it('skips pg_catalog and information_schema where they lack the name, as PostgreSQL does', async () => {
    for (const first of ['pg_catalog', 'information_schema']) {
      await agent.query(`SET search_path = ${first}, clinical`);
      const sql = `SELECT ssn FROM patients ORDER BY id LIMIT 1 -- ${first}`;
      expect((await agent.query(sql)).rows).toEqual([{ ssn: '***' }]);
      expect(await tablesRead(sql)).toEqual(['clinical.patients']);
    }
    await agent.query('SET search_path = information_schema, clinical');
    await agent.query('SELECT count(*) FROM tables'); // a catalog view: it ends the search
    expect(await tablesRead('SELECT count(*) FROM tables')).toEqual(['information_schema.tables']);
  });

  it('with several schemas that may hold the name, the policy must permit every one', async () => {
    await agent.query('SET search_path = public, clinical');
    // The server would read clinical.patients; public.patients could be created meanwhile. The
    // example policies permit agents nothing in public, so the statement is denied.
    expect(await sqlstateOf(agent, 'SELECT ssn FROM patients LIMIT 1')).toBe('42501');
    expect(await tablesRead('SELECT ssn FROM patients LIMIT 1')).toEqual(['public.patients', 'clinical.patients']);
  });

  it('refuses unqualified names after a change of search_path in the same query string', async () => {
    // On the path in force (clinical), `visits` is clinical.visits, which agents may read; the
    // string's own SET would make the server read public.visits instead.
    await agent.query('SET search_path = clinical');
    expect(await sqlstateOf(agent, 'SET search_path = public; SELECT count(*) FROM visits')).toBe('0A000');
    expect(await sqlstateOf(agent, 'SET search_path = public; SELECT count(*) FROM clinical.visits')).toBeNull();
    await agent.query('RESET search_path');
  });

  it('follows set_config() under a name with the database in front', async () => {
    await agent.query('RESET search_path');
    const db = (await agent.query('SELECT current_database() AS d')).rows[0].d as string;
    await agent.query(`SELECT ${db}.pg_catalog.set_config('search_path', 'clinical', false)`);
    expect((await agent.query('SELECT ssn FROM patients ORDER BY id LIMIT 1')).rows).toEqual([{ ssn: '***' }]);
    await agent.query('RESET search_path');
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

  it('takes the search_path startup parameter from the server, not from the client\'s text', async () => {
    const token = await t.token('agent-path-startup', ['agents']);
    const c = await WireClient.connect(t.port, token, { search_path: 'pg_catalog, clinical' });
    try {
      c.send(serialize.query('SELECT ssn FROM patients ORDER BY id LIMIT 1'));
      const [g] = await c.untilReady(1);
      expect(rowsOf(g ?? [])).toEqual([['***']]);
    } finally {
      c.close();
    }
  });

  it('refuses unqualified names in an extended batch after it changed search_path, until its Sync', async () => {
    const token = await t.token('agent-path-batch', ['agents']);
    const c = await WireClient.connect(t.port, token, { search_path: 'clinical' });
    try {
      // As in the test above: decided on `clinical`, `visits` would be clinical.visits.
      c.send(
        serialize.parse({ text: 'SET search_path = public' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'SELECT count(*) FROM visits' }),
        serialize.bind({}),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      );
      const [batch] = await c.untilReady(1);
      expect(errorCodes(batch ?? [])).toEqual(['0A000']);
      // After the Sync the batch's SET was rolled back with it, and the path is known again.
      c.send(serialize.query('SHOW search_path'));
      const [shown] = await c.untilReady(1);
      expect(rowsOf(shown ?? [])).toEqual([['clinical']]);
    } finally {
      c.close();
    }
  });
});

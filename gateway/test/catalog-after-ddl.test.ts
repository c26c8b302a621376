// A schema change made through Gatehouse refreshes the catalog snapshots at once (pg/catalog.ts
// changed(), pg/upstream-relay.ts): the next statement, in the same session or another, is decided
// with the new view or function known (its tables read, its routine user-defined), not as unknown,
// with the default 30 s refresh interval. Through a real Gatehouse to the real PostgreSQL, both engines.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_triggers npx vitest run --project integration gateway/test/catalog-after-ddl.test.ts

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Outcome as Attempted } from './support/attempt.ts';
import type { TestGateway } from './support/harness.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';

const CLEANUP = (engine: string): string => `
DROP VIEW IF EXISTS public.ddl_same_v_${engine}, public.ddl_ext_v_${engine}, public.ddl_v_${engine}, public.ddl_txn_v_${engine};
DROP FUNCTION IF EXISTS public.ddl_f_${engine}();
`;

/** What a statement got back (the fixture's attempts carry the agent's notices too). */
type Outcome = Omit<Attempted, 'notices'>;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`a schema change through Gatehouse is in the next decision (${engine})`, () => {
    const rt = useRedTeamFixture({
      engine,
      cleanup: CLEANUP(engine),
      // schema-admins change the schema and use public.ddl_*; agents may read public.ddl_* (and
      // clinical.patients masked, as the example policies say). The default 30 s refresh interval.
      policies: { ruleId: 'ddl', agentTablePrefix: 'public.ddl_' },
      admin: `ddl-admin-${engine}`,
      agent: { subject: `ddl-agent-${engine}`, groups: ['agents'] },
    });
    const { attempt } = rt;
    let t: TestGateway, admin: pg.Client, agent: pg.Client, ssn: string;
    beforeAll(() => {
      ({ gateway: t, admin, agent, ssn } = rt);
    });

    /** The statement record of the first statement whose text includes `needle`. */
    const statementInput = async (needle: string): Promise<{ tables_read: string[]; user_functions: string[] }> => {
      const records = await t.auditUntil((r) => r.some((x) => x.type === 'statement' && x.statement.includes(needle)));
      const record = records.find((x) => x.type === 'statement' && x.statement.includes(needle)) as unknown as { input: { statement: { tables_read: string[]; user_functions: string[] } } };
      return record.input.statement;
    };

    it('same session: a view created in the previous statement is decided as reading its tables', async () => {
      expect((await attempt(admin, `CREATE VIEW public.ddl_same_v_${engine} AS SELECT id, ssn FROM clinical.patients`)).code).toBeNull();
      expect((await attempt(admin, `SELECT count(*) FROM public.ddl_same_v_${engine}`)).code).toBeNull();
      expect((await statementInput(`FROM public.ddl_same_v_${engine}`)).tables_read).toContain('clinical.patients');
    });

    it('another session: an agent reading a new view over the masked table never sees a raw SSN', async () => {
      expect((await attempt(admin, `CREATE VIEW public.ddl_v_${engine} AS SELECT id, ssn FROM clinical.patients`)).code).toBeNull();
      const o = await attempt(agent, `SELECT ssn FROM public.ddl_v_${engine} WHERE id = 1`);
      expect(JSON.stringify(o)).not.toContain(ssn);
      // Decided as reading clinical.patients: masked, or refused naming the view; never as an unknown relation.
      if (o.code === null) expect(o.rows).toEqual([{ ssn: '***' }]);
      else {
        expect(['42501', '0A000']).toContain(o.code);
        if (o.code === '0A000') expect(o.error).toContain(`view public.ddl_v_${engine} reads masked table clinical.patients`);
      }
      expect((await statementInput(`SELECT ssn FROM public.ddl_v_${engine}`)).tables_read).toContain('clinical.patients');
    });

    it('another session: a new function reading the masked table is a user function to the policy (deny-user-functions)', async () => {
      const create = `CREATE FUNCTION public.ddl_f_${engine}() RETURNS text LANGUAGE sql AS $$ SELECT ssn FROM clinical.patients WHERE id = 1 $$`;
      expect((await attempt(admin, create)).code).toBeNull();
      const o = await attempt(agent, `SELECT public.ddl_f_${engine}()`);
      expect(o.code).toBe('42501');
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect((await statementInput(`SELECT public.ddl_f_${engine}()`)).user_functions).toEqual([`public.ddl_f_${engine}`]);
    });

    it('a change inside a transaction block is read when the block commits', async () => {
      await admin.query('BEGIN');
      expect((await attempt(admin, `CREATE VIEW public.ddl_txn_v_${engine} AS SELECT id, ssn FROM clinical.patients`)).code).toBeNull();
      await admin.query('COMMIT');
      const o = await attempt(agent, `SELECT ssn FROM public.ddl_txn_v_${engine} WHERE id = 1`);
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect((await statementInput(`SELECT ssn FROM public.ddl_txn_v_${engine}`)).tables_read).toContain('clinical.patients');
    });

    it('the same through the extended protocol (Parse/Bind/Execute/Sync) on both sides', async () => {
      await admin.query({ name: `mk_ext_${engine}`, text: `CREATE VIEW public.ddl_ext_v_${engine} AS SELECT id, ssn FROM clinical.patients` });
      let o: Outcome;
      try {
        const r = await agent.query(`SELECT ssn FROM public.ddl_ext_v_${engine} WHERE id = $1`, [1]);
        o = { code: null, rows: r.rows, error: null };
      } catch (e) {
        o = { code: (e as pg.DatabaseError).code ?? 'no-sqlstate', rows: [], error: (e as Error).message };
      }
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.code).not.toBeNull();
      expect((await statementInput(`SELECT ssn FROM public.ddl_ext_v_${engine}`)).tables_read).toContain('clinical.patients');
    });

    it('statements that need no catalog run as before', async () => {
      expect((await attempt(agent, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
}

// Changing the role by any route other than SET ROLE (set_config, UPDATE pg_settings), and calling
// server administration functions (pg_terminate_backend, ...): denied to agents end to end, through
// Gatehouse to the real PostgreSQL, with node-postgres (simple and extended protocol), for both
// policy engines (deny-set-role on statement.settings, deny-admin-functions).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, TEST_DB, type TestGateway, recorded } from './support/harness.ts';

/** A role every PostgreSQL 14+ has, that the gateway's upstream user (a superuser) may become. */
const OTHER_ROLE = 'pg_read_all_stats';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`${engine} engine`, () => {
    let t: TestGateway;
    let direct: pg.Client;
    let agent: pg.Client;
    let breakglassAgent: pg.Client;

    beforeAll(async () => {
      t = await startTestGateway({ engine });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      agent = await t.client(await t.token('agent-7', ['agents']));
      breakglassAgent = await t.client(await t.token('dr-house', ['agents', 'breakglass']));
    });
    afterAll(async () => {
      await direct?.end();
      await t?.close();
    });

    /** The policies of the (one) audited decision on `sql`. */
    async function deniedBy(sql: string): Promise<string[]> {
      const isOurs = (r: AuditRecord): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === recorded(sql);
      const records = await t.auditUntil((rs) => rs.some(isOurs));
      const ours = records.filter(isOurs);
      expect(ours.map((r) => r.decision)).toEqual(['deny']);
      return ours[0]!.policies;
    }

    it('the statements under test do change the role when run directly', async () => {
      await direct.query('BEGIN');
      await direct.query(`SELECT set_config('role', '${OTHER_ROLE}', true)`);
      expect((await direct.query('SELECT current_user AS u')).rows).toEqual([{ u: OTHER_ROLE }]);
      await direct.query('ROLLBACK');
    });

    it('denies set_config of role under any name, and the role stays as it was', async () => {
      const before = (await agent.query('SELECT current_user AS u')).rows[0].u;
      expect(before).not.toBe(OTHER_ROLE);
      const forms = [
        `SELECT set_config('role', '${OTHER_ROLE}', false)`,
        `SELECT pg_catalog.set_config('ROLE', '${OTHER_ROLE}', false)`,
        `SELECT ${TEST_DB}.pg_catalog.set_config('session_authorization', '${OTHER_ROLE}', false)`,
        `SELECT set_config(setting_name => 'role', new_value => '${OTHER_ROLE}', is_local => false)`,
      ];
      for (const sql of forms) {
        expect(await sqlstateOf(agent, sql), sql).toBe('42501');
        expect(await deniedBy(sql), sql).toContain('deny-set-role');
      }
      // The setting guard refuses it first (the rows it changes are not known: it could reach a
      // parser setting); the policy would deny it too (statement.settings ["*"], policy-tests).
      expect(await sqlstateOf(agent, `UPDATE pg_settings SET setting = '${OTHER_ROLE}' WHERE name = 'role'`)).toBe('22023');
      expect((await agent.query('SELECT current_user AS u')).rows).toEqual([{ u: before }]);
    });

    it('denies set_config with a parameter name bound in the extended protocol', async () => {
      const sql = 'SELECT set_config($1, $2, false) AS bound';
      expect(await sqlstateOf(agent, sql, ['role', OTHER_ROLE])).toBe('42501');
      expect(await deniedBy(sql)).toContain('deny-set-role');
      expect((await agent.query("SELECT current_setting('role') AS r")).rows).toEqual([{ r: 'none' }]);
    });

    it('still allows other settings and RESET ALL', async () => {
      expect((await agent.query("SELECT set_config('application_name', 'probe', false) AS v")).rows).toEqual([{ v: 'probe' }]);
      await agent.query('RESET ALL');
    });

    it('denies pg_terminate_backend to an agent, and the target backend lives on', async () => {
      const pid = (await direct.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const sql = `SELECT pg_terminate_backend(${pid})`;
      expect(await sqlstateOf(agent, sql)).toBe('42501');
      expect(await deniedBy(sql)).toEqual(['deny-admin-functions']);
      expect(await sqlstateOf(agent, `SELECT pg_catalog.pg_cancel_backend(${pid})`)).toBe('42501');
      expect(await sqlstateOf(agent, 'SELECT pg_reload_conf()')).toBe('42501');
      expect((await direct.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('lets a break-glass agent cancel a backend', async () => {
      const pid = (await direct.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      expect((await breakglassAgent.query('SELECT pg_cancel_backend($1) AS ok', [pid])).rows).toEqual([{ ok: true }]);
      expect((await direct.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
}

// The example policies' catalog and SQL-text denies end to end, through Gatehouse to the real
// PostgreSQL, for both engines: planner statistics and session activity are refused to agents and
// readable by break-glass, password hashes to everyone, SQL given as a string to everyone (in both
// protocols); metadata catalogs stay readable.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, type TestGateway, recorded } from './support/harness.ts';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`catalog data and SQL text, ${engine} engine`, () => {
    let t: TestGateway;
    let agent: pg.Client;
    let breakglass: pg.Client;

    beforeAll(async () => {
      t = await startTestGateway({ engine });
      const direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      await direct.query('ANALYZE clinical.patients'); // what autovacuum does: pg_stats gets rows
      await direct.end();
      agent = await t.client(await t.token('agent-7', ['agents']));
      breakglass = await t.client(await t.token('dr-house', ['breakglass']));
    });
    afterAll(async () => {
      await t?.close();
    });

    /** The policies of the audited decision on `sql` (the latest one). */
    const decidedBy = async (sql: string): Promise<string[]> => {
      const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.statement === recorded(sql)));
      const last = records.filter((r): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === recorded(sql)).at(-1);
      return last?.policies ?? [];
    };

    it('refuses planner statistics and session activity to agents, naming deny-catalog-data', async () => {
      for (const sql of [
        "SELECT attname, most_common_vals::text FROM pg_stats WHERE schemaname = 'clinical'",
        'SELECT query FROM pg_catalog.pg_stat_activity',
        'SELECT query FROM pg_stat_get_activity(NULL)',
      ]) {
        expect(await sqlstateOf(agent, sql), sql).toBe('42501');
        expect(await decidedBy(sql), sql).toEqual(['deny-catalog-data']);
      }
    });

    it('lets break-glass read planner statistics', async () => {
      const r = await breakglass.query("SELECT attname FROM pg_stats WHERE schemaname = 'clinical' AND tablename = 'patients' AND attname = 'ssn'");
      expect(r.rows).toEqual([{ attname: 'ssn' }]);
    });

    it('refuses password hashes even to break-glass', async () => {
      const sql = 'SELECT rolname, rolpassword FROM pg_authid';
      expect(await sqlstateOf(breakglass, sql)).toBe('42501');
      expect(await decidedBy(sql)).toEqual(['deny-catalog-secrets']);
    });

    it('refuses SQL given as a string to break-glass too, in the extended protocol as well', async () => {
      const sql = "SELECT table_to_xml('clinical.patients', true, false, '')";
      expect(await sqlstateOf(breakglass, sql)).toBe('42501');
      expect(await decidedBy(sql)).toEqual(['deny-sql-text']);
      expect(await sqlstateOf(agent, 'SELECT query_to_xml($1, true, false, $2)', ['select ssn from clinical.patients', ''])).toBe('42501');
    });

    it('keeps metadata catalogs readable for agents', async () => {
      const r = await agent.query(
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'clinical' AND c.relname = 'patients'",
      );
      expect(r.rows).toEqual([{ relname: 'patients' }]);
      expect(await sqlstateOf(agent, 'SELECT stxname FROM pg_catalog.pg_statistic_ext')).toBeNull();
      expect(await sqlstateOf(agent, 'SELECT rolname FROM pg_catalog.pg_roles')).toBeNull();
    });
  });
}

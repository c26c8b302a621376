// A function is recorded under every name a policy may match it by, however the statement writes
// the call: with a database name in front, or in PostgreSQL's functional notation ((x).f, t.f).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { sqlstateOf, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`function names, ${engine} engine`, () => {
    let t: TestGateway;
    let agent: pg.Client;

    beforeAll(async () => {
      t = await startTestGateway({ engine });
      agent = await t.client(await t.token('agent-functions', ['agents']));
    });
    afterAll(async () => t?.close());

    it('denies a file function however its call is written', async () => {
      for (const sql of [
        `SELECT ${TEST_DB}.pg_catalog.pg_read_file('/etc/hostname')`,
        "SELECT (f).pg_read_file FROM (SELECT '/etc/hostname'::text AS f) s",
        "SELECT t.pg_read_file FROM unnest(ARRAY['/etc/hostname']) t",
        "SELECT (SELECT t.pg_stat_file FROM unnest(ARRAY['/etc/hostname']) t)",
      ]) {
        expect(await sqlstateOf(agent, sql), sql).toBe('42501');
      }
    });

    it('still runs ordinary calls and qualified column references', async () => {
      expect(await sqlstateOf(agent, `SELECT ${TEST_DB}.pg_catalog.lower('A')`)).toBeNull();
      expect(await sqlstateOf(agent, 'SELECT v.id FROM clinical.visits v LIMIT 1')).toBeNull();
    });
  });
}

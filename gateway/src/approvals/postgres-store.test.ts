// The PostgreSQL approval store against the real PostgreSQL (own database per GATEHOUSE_TEST_DB):
// the paging contract, and an index that serves the newest-first order of lists and pages.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, TEST_DB } from '../../test/support/harness.ts';
import { grantListQuery, requestListQuery } from './postgres-lists.ts';
import { openPostgresStore } from './postgres-store.ts';
import { describeStorePaging } from './store-paging.contract.ts';
import { person } from './test-fixtures.ts';

let url: string;
let admin: pg.Client;

beforeAll(async () => {
  url = await ensureDatabase(`${TEST_DB}_approval_paging`);
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
});

/** A store over empty tables (the schema dropped, then created again by the store). */
async function fresh() {
  await admin.query('DROP SCHEMA IF EXISTS gatehouse CASCADE');
  return openPostgresStore({ url, maxConnections: 2 });
}

describeStorePaging('postgres', fresh);

describe('postgres store: list order', () => {
  it('is served by an index, without a sort, for a filtered page of requests and of grants', async () => {
    const store = await fresh();
    // Opening again changes nothing (instances start with the tables there).
    await (await openPostgresStore({ url, maxConnections: 1 })).close();
    const before = { createdAt: '2026-11-01T08:00:00.000Z', id: '00000000-0000-4000-8000-000000000000' };
    const lead = person('lead-1', ['clinical-leads']);
    const plans: string[] = [];
    for (const { sql, params } of [
      requestListQuery({ states: ['approved', 'denied'], visibleTo: lead, before, limit: 51 }),
      requestListQuery({ limit: 51 }),
      grantListQuery({ before, limit: 51 }),
    ]) {
      await admin.query('BEGIN');
      // Empty tables: tell the planner what a long history would.
      await admin.query('SET LOCAL enable_seqscan = off');
      await admin.query('SET LOCAL enable_sort = off');
      const res = await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      await admin.query('ROLLBACK');
      plans.push(res.rows.map((r) => r['QUERY PLAN']).join('\n'));
    }
    expect(plans[0]).toMatch(/approval_requests_newest/);
    expect(plans[1]).toMatch(/approval_requests_newest/);
    expect(plans[2]).toMatch(/approval_grants_newest/);
    for (const plan of plans) expect(plan).not.toMatch(/\bSort\b/);
    await store.close();
  });
});

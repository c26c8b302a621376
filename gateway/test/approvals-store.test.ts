// The PostgreSQL approval store against the real PostgreSQL: two instances share one request, an
// answer on each counts exactly once, and requests and grants survive a restart.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresStore } from '../src/approvals/postgres-store.ts';
import { ApprovalService } from '../src/approvals/service.ts';
import type { ApprovalStore } from '../src/approvals/store.ts';
import { heldUpdate, person } from '../src/approvals/test-fixtures.ts';
import type { ApprovalAuditRecord } from '../src/audit/types.ts';
import { ensureDatabase, TEST_DB } from './support/harness.ts';

let url: string;
const stores: ApprovalStore[] = [];

async function instance(records: ApprovalAuditRecord[] = []): Promise<{ store: ApprovalStore; service: ApprovalService }> {
  const store = await openPostgresStore({ url });
  stores.push(store);
  return { store, service: new ApprovalService({ store, audit: (r) => records.push(r), activeRevision: () => 'rev-1', pollMs: 20 }) };
}

beforeAll(async () => {
  url = await ensureDatabase(`${TEST_DB}_approvals`);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('DROP SCHEMA IF EXISTS gatehouse CASCADE');
  await c.end();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

describe('PostgreSQL approval store', () => {
  it('creates its tables in schema gatehouse, idempotently, with instances starting together', async () => {
    await Promise.all([instance(), instance(), instance()]);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const tables = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'gatehouse' ORDER BY 1");
    await c.end();
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(['approval_grants', 'approval_requests']);
  });

  it('two instances answering at once both count, once each (quorum of two)', async () => {
    const a = await instance();
    const b = await instance();
    const r = await a.service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    const waiting = b.service.waitForClose(r.id);
    const [x, y] = await Promise.all([
      a.service.answer(person('lead-1', ['clinical-leads']), r.id, { verdict: 'approve', comment: 'a', grantSeconds: 0 }),
      b.service.answer(person('lead-2', ['clinical-leads']), r.id, { verdict: 'approve', comment: 'b', grantSeconds: 0 }),
    ]);
    expect([x?.kind, y?.kind]).toEqual(['answered', 'answered']);
    const closed = await waiting;
    expect(closed?.state).toBe('approved');
    expect(closed?.answers.map((ans) => ans.approver.subject).sort()).toEqual(['lead-1', 'lead-2']);
  });

  it('the same person answering on two instances at once counts once', async () => {
    const a = await instance();
    const b = await instance();
    const r = await a.service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    const lead = person('lead-1', ['clinical-leads']);
    const outs = await Promise.all([
      a.service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 }),
      b.service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 }),
    ]);
    expect(outs.map((o) => (o?.kind === 'refused' ? o.refusal : o?.kind)).sort()).toEqual(['already_answered', 'answered']);
    expect((await a.service.get(r.id))?.answers).toHaveLength(1);
  });

  it('requests and grants survive a restart; unknown and malformed ids are not found', async () => {
    const first = await instance();
    const r = await first.service.open(heldUpdate());
    await first.service.answer(person('lead-1', ['clinical-leads']), r.id, { verdict: 'approve', comment: '', grantSeconds: 600 });
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);
    const again = await instance();
    expect((await again.service.get(r.id))?.state).toBe('approved');
    expect(await again.service.findGrant({ fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', subject: 'agent-7', issuer: 'https://idp.test' })).not.toBeNull();
    expect(await again.service.get('not-a-uuid')).toBeNull();
    expect(await again.service.get('00000000-0000-0000-0000-000000000000')).toBeNull();
  });
});

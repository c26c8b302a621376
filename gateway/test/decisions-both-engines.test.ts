// Allow, mask and deny end to end, through Gatehouse to the real PostgreSQL, with node-postgres
// (simple and extended protocol), for both policy engines on equivalent example policies.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, type TestGateway, recorded } from './support/harness.ts';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`${engine} engine`, () => {
    let t: TestGateway;
    let direct: pg.Client;
    let agent: pg.Client;
    let breakglass: pg.Client;

    beforeAll(async () => {
      t = await startTestGateway({ engine });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      agent = await t.client(await t.token('agent-7', ['agents']));
      breakglass = await t.client(await t.token('dr-house', ['breakglass']));
    });
    afterAll(async () => {
      await direct?.end();
      await t?.close();
    });

    it('allows a read of non-identifying columns, returning exactly what the database has', async () => {
      const sql = 'SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 5';
      const via = await agent.query(sql);
      const truth = await direct.query(sql);
      expect(via.rows).toEqual(truth.rows);
      expect(via.rows).toHaveLength(5);
    });

    it('masks identifiers in result rows (simple protocol)', async () => {
      const sql = 'SELECT id, first_name, ssn, phone, email, address FROM clinical.patients ORDER BY id LIMIT 5';
      const via = await agent.query(sql);
      const truth = await direct.query(sql);
      expect(via.rows).toHaveLength(5);
      via.rows.forEach((row, i) => {
        const real = truth.rows[i];
        expect(row.id).toBe(real.id);
        expect(row.first_name).toBe('***');
        expect(row.ssn).toBe('***');
        expect(row.phone).toBe('*'.repeat(real.phone.length - 4) + real.phone.slice(-4));
        expect(row.email).toMatch(/^h:[0-9a-f]{16}$/);
        expect(row.address).toBeNull();
        expect(JSON.stringify(row)).not.toContain(real.ssn);
      });
    });

    it('masks identifiers in a parameterized extended-protocol query', async () => {
      const truth = await direct.query('SELECT ssn, last_name FROM clinical.patients WHERE id = $1', [3]);
      const via = await agent.query('SELECT ssn, last_name FROM clinical.patients WHERE id = $1', [3]);
      expect(via.rows).toEqual([{ ssn: '***', last_name: '***' }]);
      expect(truth.rows[0].ssn).not.toBe('***');
    });

    it('computes on masked values only: functions, whole rows and subqueries see the mask, not the data', async () => {
      const truth = (await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0].ssn as string;
      expect((await agent.query('SELECT upper(ssn) AS s, length(ssn) AS n FROM clinical.patients WHERE id = 1')).rows).toEqual([{ s: '***', n: 3 }]);
      const whole = await agent.query('SELECT row_to_json(p) AS whole FROM clinical.patients p WHERE id = 1');
      expect(whole.rows[0].whole.ssn).toBe('***');
      const via = await agent.query('SELECT (SELECT p.ssn) AS s FROM clinical.patients p WHERE id = 1');
      expect(via.rows).toEqual([{ s: '***' }]);
      // A predicate on the masked column tests the masked value: the real SSN matches nothing.
      expect((await agent.query('SELECT count(*)::int AS n FROM clinical.patients WHERE ssn = $1', [truth])).rows).toEqual([{ n: 0 }]);
      expect(JSON.stringify([whole.rows, via.rows])).not.toContain(truth);
    });

    it('lets the break-glass group read identifiers unmasked', async () => {
      const sql = 'SELECT ssn, first_name FROM clinical.patients ORDER BY id LIMIT 3';
      expect((await breakglass.query(sql)).rows).toEqual((await direct.query(sql)).rows);
    });

    it('denies DDL with 42501 and nothing reaches the database', async () => {
      expect(await sqlstateOf(agent, 'DROP TABLE clinical.visits')).toBe('42501');
      const still = await direct.query("SELECT to_regclass('clinical.visits') AS t");
      expect(still.rows[0].t).toBe('clinical.visits');
    });

    it('denies server-side file access', async () => {
      expect(await sqlstateOf(agent, "SELECT pg_read_file('/etc/passwd')")).toBe('42501');
      expect(await sqlstateOf(breakglass, "SELECT pg_read_file('/etc/passwd')")).toBe('42501');
    });

    it('denies a statement that cannot be parsed with 42601', async () => {
      expect(await sqlstateOf(agent, 'SELEC * FROM clinical.patients')).toBe('42601');
    });

    it('holds a write needing approval with the policy\'s requirements; denied, it fails with 42501', async () => {
      const refused = sqlstateOf(agent, "UPDATE clinical.patients SET phone = '555-0000' WHERE id = 1");
      const lead = { subject: 'lead-1', issuer: 'https://leads.test', groups: ['clinical-leads'], roles: [], name: null };
      let pending = await t.gw.approvals.service.list(lead, ['pending']);
      for (let i = 0; i < 400 && pending.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 25));
        pending = await t.gw.approvals.service.list(lead, ['pending']);
      }
      expect(pending[0]?.requirements).toEqual({ approvers: ['clinical-leads'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 1800 });
      expect(pending[0]?.policy).toMatchObject({ ids: ['clinical-write-approval'], engine });
      await t.gw.approvals.service.answer(lead, pending[0]!.id, { verdict: 'deny', comment: '', grantSeconds: 0 });
      expect(await refused).toBe('42501');
      const phone = await direct.query('SELECT phone FROM clinical.patients WHERE id = 1');
      expect(phone.rows[0].phone).not.toBe('555-0000');
    });

    it('masks each result set of a multi-statement string by its own statement', async () => {
      const sql = 'SELECT 1 AS a; SELECT id, ssn FROM clinical.patients WHERE id = 1; SELECT 2 AS b, id FROM clinical.visits ORDER BY id LIMIT 1';
      const results = (await agent.query(sql)) as unknown as pg.QueryResult[];
      const visit = await direct.query('SELECT 2 AS b, id FROM clinical.visits ORDER BY id LIMIT 1');
      expect(results.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ id: 1, ssn: '***' }], visit.rows]);
    });

    it('refuses a whole multi-statement string when one statement is denied', async () => {
      expect(await sqlstateOf(agent, 'SELECT 1; DROP TABLE clinical.visits')).toBe('42501');
      expect((await direct.query("SELECT to_regclass('clinical.visits') AS t")).rows[0].t).toBe('clinical.visits');
    });

    it('a denial inside a transaction block aborts it until ROLLBACK, like a PostgreSQL error', async () => {
      await agent.query('BEGIN');
      await agent.query('SELECT id FROM clinical.visits LIMIT 1');
      expect(await sqlstateOf(agent, 'DROP TABLE clinical.visits')).toBe('42501');
      expect(await sqlstateOf(agent, 'SELECT 1')).toBe('25P02');
      await agent.query('ROLLBACK');
      expect((await agent.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('a denial in an extended-protocol transaction also aborts the block', async () => {
      await agent.query('BEGIN');
      expect(await sqlstateOf(agent, 'SELECT pg_read_file($1)', ['/etc/passwd'])).toBe('42501');
      expect(await sqlstateOf(agent, 'SELECT $1::int AS n', [1])).toBe('25P02');
      await agent.query('ROLLBACK');
      expect((await agent.query('SELECT $1::int AS n', [5])).rows).toEqual([{ n: 5 }]);
    });

    it('writes an audit record before each statement and its outcome after, stamped with the policy revision', async () => {
      await agent.query('SELECT id FROM clinical.visits ORDER BY id LIMIT 2');
      const isOurs = (r: AuditRecord): r is Extract<AuditRecord, { type: 'statement' }> =>
        r.type === 'statement' && r.statement === recorded('SELECT id FROM clinical.visits ORDER BY id LIMIT 2');
      const records = await t.auditUntil((rs) => {
        const ours = rs.find(isOurs);
        return ours !== undefined && rs.some((r) => r.type === 'outcome' && r.decision_id === ours.decision_id);
      });
      const stmt = records.filter(isOurs);
      expect(stmt).toHaveLength(1);
      const s = stmt[0]!;
      if (s.type !== 'statement') throw new Error('unreachable');
      expect(s.decision).toBe('allow');
      expect(s.engine).toBe(engine);
      expect(s.revision).toBe(t.gw.engine().revision);
      expect(s.identity?.subject).toBe('agent-7');
      const outcome = records.find((r) => r.type === 'outcome' && r.decision_id === s.decision_id);
      expect(outcome && outcome.type === 'outcome' ? outcome.outcome : null).toEqual({ status: 'ok', command_tag: 'SELECT 2', rows: 2 });
      // The outcome says who and under which revision without a join to its statement record.
      expect(outcome && outcome.type === 'outcome' ? [outcome.identity, outcome.revision] : null).toEqual([s.identity, s.revision]);
      const denied = records.find((r) => r.type === 'statement' && r.statement === recorded('DROP TABLE clinical.visits'));
      expect(denied && denied.type === 'statement' ? denied.decision : null).toBe('deny');
    });

    it('audits what was applied: a statement reading no masked column of a masked table is allow, with no masks and the policy ids', async () => {
      const unmasked = 'SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 3';
      const masked = 'SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 3';
      const truth = await direct.query(unmasked);
      expect((await agent.query(unmasked)).rows).toEqual(truth.rows);
      expect((await agent.query(masked)).rows.map((r: { ssn: string }) => r.ssn)).toEqual(['***', '***', '***']);
      const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'outcome').length > 0 && rs.some((r) => r.type === 'statement' && r.statement === recorded(masked)));
      const find = (text: string): Extract<AuditRecord, { type: 'statement' }> => {
        const r = records.find((x) => x.type === 'statement' && x.statement === recorded(text));
        if (r?.type !== 'statement') throw new Error(`no statement record for ${text}`);
        return r;
      };
      const a = find(unmasked);
      const b = find(masked);
      // Both were decided by the same masking policy; only the second read a masked column.
      expect(a.policies).toEqual(b.policies);
      expect(a.policies.length).toBeGreaterThan(0);
      expect([a.decision, a.masks]).toEqual(['allow', []]);
      expect(b.decision).toBe('mask');
      expect(b.masks).toEqual([{ table: 'clinical.patients', column: 'ssn', strategy: 'redact' }]);
    });

    it('never writes a masked value into the audit log', async () => {
      const truth = await direct.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 5');
      await agent.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 5');
      const log = JSON.stringify(t.audit());
      for (const r of truth.rows) expect(log).not.toContain(r.ssn);
    });
  });
}

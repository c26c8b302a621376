// The extended query protocol through Gatehouse: named prepared statements executed many times,
// queued and pipelined statements whose results and errors each land on the right request, and
// portals read a few rows at a time, with masks applied on every execution.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, recorded } from './support/harness.ts';
import { errorCodes, names, rowsOf, serialize, WireClient } from './support/wire-client.ts';

interface PatientTruth {
  id: number;
  ssn: string;
  phone: string;
  first_name: string;
}

describe('extended query protocol', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let agent: pg.Client;
  let token: string;
  let patients: PatientTruth[];

  const last4 = (v: string): string => '*'.repeat(v.length - 4) + v.slice(-4);

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-ext', ['agents']);
    agent = await t.client(token);
    patients = (await direct.query('SELECT id, ssn, phone, first_name FROM clinical.patients ORDER BY id')).rows;
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('a named prepared statement is masked on every execution', async () => {
    const text = 'SELECT id, ssn, phone FROM clinical.patients WHERE id = $1';
    for (const p of patients.slice(0, 12)) {
      const r = await agent.query({ name: 'q1', text, values: [p.id] });
      expect(r.rows).toEqual([{ id: p.id, ssn: '***', phone: last4(p.phone) }]);
    }
    // Executions of q1 were each decided and audited as a mask.
    const decided = t.audit().filter((r) => r.type === 'statement' && r.statement === recorded(text));
    expect(decided.length).toBeGreaterThanOrEqual(12);
    for (const d of decided) expect(d.type === 'statement' ? d.decision : null).toBe('mask');
  });

  it('a named prepared statement that is denied stays denied, and the session goes on', async () => {
    for (let i = 0; i < 3; i++) {
      const outcome = await agent.query({ name: 'qd', text: 'SELECT pg_read_file($1)', values: ['/etc/passwd'] }).then(
        () => null,
        (e: { code?: string }) => e.code,
      );
      expect(outcome).toBe('42501');
    }
    const r = await agent.query({ name: 'q2', text: 'SELECT id FROM clinical.visits WHERE id = $1', values: [1] });
    expect(r.rows).toEqual([{ id: 1 }]);
  });

  it('twenty queued queries mixing allowed, masked and denied each get their own answer', async () => {
    type Expectation = { kind: 'rows'; rows: unknown[] } | { kind: 'error'; code: string };
    const work: Array<{ run: Promise<pg.QueryResult>; expect: Expectation }> = [];
    for (let i = 0; i < 20; i++) {
      const p = patients[i]!;
      switch (i % 5) {
        case 0:
          work.push({ run: agent.query('SELECT id, diagnosis_code IS NOT NULL AS has_dx FROM clinical.patients WHERE id = $1', [p.id]), expect: { kind: 'rows', rows: [{ id: p.id, has_dx: true }] } });
          break;
        case 1:
          work.push({ run: agent.query('SELECT ssn, first_name FROM clinical.patients WHERE id = $1', [p.id]), expect: { kind: 'rows', rows: [{ ssn: '***', first_name: '***' }] } });
          break;
        case 2:
          work.push({ run: agent.query('SELECT pg_read_file($1)', ['/etc/passwd']), expect: { kind: 'error', code: '42501' } });
          break;
        case 3:
          work.push({ run: agent.query(`SELECT phone FROM clinical.patients WHERE id = ${p.id}`), expect: { kind: 'rows', rows: [{ phone: last4(p.phone) }] } });
          break;
        default:
          work.push({ run: agent.query('DROP TABLE clinical.visits'), expect: { kind: 'error', code: '42501' } });
      }
    }
    const settled = await Promise.allSettled(work.map((w) => w.run));
    settled.forEach((s, i) => {
      const e = work[i]!.expect;
      if (e.kind === 'rows') {
        expect(s.status, `query ${i}`).toBe('fulfilled');
        if (s.status === 'fulfilled') expect(s.value.rows, `query ${i}`).toEqual(e.rows);
      } else {
        expect(s.status, `query ${i}`).toBe('rejected');
        if (s.status === 'rejected') expect((s.reason as { code?: string }).code, `query ${i}`).toBe(e.code);
      }
    });
  });

  it('a portal read a few rows at a time (Execute with a row limit) is masked on every page', async () => {
    const r = await agent.query({ text: 'SELECT id, ssn, first_name FROM clinical.patients WHERE id <= $1 ORDER BY id', values: [25], rows: 7 } as pg.QueryConfig);
    expect(r.rows).toEqual(patients.slice(0, 25).map((p) => ({ id: p.id, ssn: '***', first_name: '***' })));
  });

  describe('raw pipelining: several batches in one write', () => {
    let w: WireClient;
    beforeAll(async () => {
      w = await WireClient.connect(t.port, token);
    });
    afterAll(() => w?.close());

    it('allowed, masked (without Describe) and denied batches, extended and simple, answer in order', async () => {
      const p1 = patients[0]!;
      const p2 = patients[1]!;
      w.send(
        // 1: masked, no Describe: Gatehouse must learn the columns itself.
        serialize.parse({ text: 'SELECT id, ssn FROM clinical.patients WHERE id = $1' }),
        serialize.bind({ values: [String(p1.id)] }),
        serialize.execute({}),
        serialize.sync(),
        // 2: denied at Parse while batch 1 is in flight.
        serialize.parse({ text: 'SELECT pg_read_file($1)' }),
        serialize.bind({ values: ['/etc/passwd'] }),
        serialize.execute({}),
        serialize.sync(),
        // 3: allowed, with Describe.
        serialize.parse({ text: 'SELECT id FROM clinical.visits ORDER BY id LIMIT 3' }),
        serialize.bind({}),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
        // 4: simple query, masked.
        serialize.query(`SELECT first_name, ssn FROM clinical.patients WHERE id = ${p2.id}`),
        // 5: simple query, denied while others are in flight.
        serialize.query('DROP TABLE clinical.visits'),
        // 6: simple query, allowed.
        serialize.query('SELECT 6 AS six'),
      );
      const [b1, b2, b3, b4, b5, b6] = await w.untilReady(6);
      expect(names(b1!)).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
      expect(rowsOf(b1!)).toEqual([[String(p1.id), '***']]);
      expect(errorCodes(b2!)).toEqual(['42501']);
      expect(names(b2!).at(-1)).toBe('readyForQuery');
      expect(rowsOf(b2!)).toEqual([]);
      expect(names(b3!)).toEqual(['parseComplete', 'bindComplete', 'rowDescription', 'dataRow', 'dataRow', 'dataRow', 'commandComplete', 'readyForQuery']);
      expect(rowsOf(b3!)).toEqual([['1'], ['2'], ['3']]);
      expect(rowsOf(b4!)).toEqual([['***', '***']]);
      expect(errorCodes(b5!)).toEqual(['42501']);
      expect(rowsOf(b6!)).toEqual([['6']]);
      for (const b of [b1, b2, b3, b4, b5, b6]) expect(b!.at(-1)?.status).toBe('I');
    });

    it('a named statement bound to a named portal and executed 4 rows at a time is masked on every page', async () => {
      w.send(
        serialize.parse({ name: 'pages', text: 'SELECT id, ssn, phone FROM clinical.patients WHERE id <= $1 ORDER BY id' }),
        serialize.bind({ statement: 'pages', portal: 'cur', values: ['10'] }),
        serialize.execute({ portal: 'cur', rows: 4 }),
        serialize.execute({ portal: 'cur', rows: 4 }),
        serialize.execute({ portal: 'cur', rows: 4 }),
        serialize.sync(),
      );
      const [batch] = await w.untilReady(1);
      expect(names(batch!).filter((n) => n !== 'dataRow')).toEqual([
        'parseComplete',
        'bindComplete',
        'portalSuspended',
        'portalSuspended',
        'commandComplete',
        'readyForQuery',
      ]);
      expect(rowsOf(batch!)).toEqual(patients.slice(0, 10).map((p) => [String(p.id), '***', last4(p.phone)]));

      // The same statement again, new portal, still masked, and no Parse needed.
      w.send(serialize.bind({ statement: 'pages', portal: 'cur2', values: ['2'] }), serialize.execute({ portal: 'cur2', rows: 1 }), serialize.execute({ portal: 'cur2', rows: 1 }), serialize.sync());
      const [again] = await w.untilReady(1);
      expect(rowsOf(again!)).toEqual(patients.slice(0, 2).map((p) => [String(p.id), '***', last4(p.phone)]));
      const raw = JSON.stringify([batch, again]);
      for (const p of patients.slice(0, 10)) expect(raw).not.toContain(p.ssn);
    });
  });
});

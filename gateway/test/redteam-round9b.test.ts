// Red-team round 9b, against the accounting of disclosures (audit.phi_tables: hidden subject columns
// at the source, enforce/subject-columns.ts, pg/upstream-relay.ts, audit/subjects.ts), through a real
// gateway to the real PostgreSQL with real JWTs and the example policies.
//
// Every test asserts the SECURE behaviour. Findings (details in the report of branch redteam9b):
//   R9b-1 (high, fixed) a PHI table read at the top-level FROM AND somewhere else in the same
//        statement (a scalar subquery in the select list, a LATERAL or derived table that does not pass
//        the subject column through, a WITH query, a writable CTE) was recorded as `listed` with the
//        subjects of the top-level rows only: `SELECT p.id, (SELECT q.ssn FROM clinical.patients q
//        WHERE q.id = 7) FROM clinical.patients p WHERE p.id = 1` disclosed patient 7 while the
//        accounting named patient 1 alone, a complete-looking but wrong list; a write with a
//        writable CTE deleting other rows of its target table likewise. Such a table is now
//        `unknown` with the reason (no hidden column is added for it).
//   R9b-2 (medium, fixed) an Execute with a row limit of a write whose whole RETURNING Gatehouse
//        added: PostgreSQL honours the limit for a statement that returns rows, so the client got
//        PortalSuspended instead of CommandComplete (a write without RETURNING ignores the limit),
//        and the outcome listed the subjects of the first rows only. Gatehouse now executes such a
//        portal without a row limit, as PostgreSQL would have run the client's statement. Likewise a
//        Bind with result formats for such a write (PostgreSQL ignores them when there are no columns)
//        failed with 08P01 once Gatehouse's RETURNING column existed; they are now not forwarded.
//   R9b-3 (low, fixed) `SELECT first_name FROM clinical.patients ORDER BY 2`: PostgreSQL refuses the
//        client's text (42P10, position 2 is not in the select list), but with the hidden column
//        appended it sorted the rows by the subject id as text, so a statement that fails without
//        phi_tables ran, ordered by a column the client did not select. An ORDER BY position past the
//        select list (a * counted as one column) now leaves the statement unchanged (subjects unknown).
//   R9b-4 (medium, fixed) RETURNING shows the new row: `UPDATE t SET subject = subject + 100 WHERE
//        subject = 10` (or INSERT ... ON CONFLICT DO UPDATE SET subject = ...) was listed with the new
//        subject (110) only, while subject 10's row is the one changed. Such a write is now unknown.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_redteam9b npx vitest run --project integration gateway/test/redteam-round9b.test.ts

import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { names, serialize, WireClient } from './support/wire-client.ts';
import { encodeBind } from '../src/wire/frontend.ts';
import type { AuditRecord } from '../src/audit/types.ts';

let t: TestGateway;
let ref: TestGateway;
let key: Buffer;
let breakglass: string;
let bench: string;
let benchRef: string;

const hash = (v: number | string): string => createHmac('sha256', key).update(String(v)).digest('hex');

beforeAll(async () => {
  ref = await startTestGateway();
  key = randomBytes(32);
  const keyFile = join(ref.workDir, 'subject.key');
  writeFileSync(keyFile, key);
  // A table the bench group may write (policies/rego/bench.rego), marked as PHI below.
  const direct = new pg.Client({ connectionString: ref.upstreamUrl });
  await direct.connect();
  await direct.query('DROP TABLE IF EXISTS public.pgbench_rt9b; CREATE TABLE public.pgbench_rt9b (aid int PRIMARY KEY, filler text); INSERT INTO public.pgbench_rt9b SELECT g, NULL FROM generate_series(1, 10) g');
  await direct.end();
  t = await startTestGateway({
    audit: {
      phi_tables: { 'clinical.patients': { subject: 'id' }, 'clinical.visits': { subject: 'patient_id' }, 'public.pgbench_rt9b': { subject: 'aid' } },
      subject_key: keyFile,
      subjects_max: 20,
    },
  });
  breakglass = await t.token('dr-who', ['breakglass']);
  bench = await t.token('bench-1', ['bench']);
  benchRef = await ref.token('bench-1', ['bench']);
}, 120_000);

afterAll(async () => {
  await t?.close();
  await ref?.close();
});

type Outcome = Extract<AuditRecord, { type: 'outcome' }>;

/** The outcome record of the statement whose recorded text contains `marker`. */
async function outcomeFor(marker: string): Promise<Outcome> {
  const find = (rs: AuditRecord[]): Outcome | undefined => {
    const s = rs.find((r) => r.type === 'statement' && r.statement.includes(marker));
    if (s?.type !== 'statement') return undefined;
    const o = rs.find((r) => r.type === 'outcome' && r.decision_id === s.decision_id);
    return o?.type === 'outcome' ? o : undefined;
  };
  return find(await t.auditUntil((rs) => find(rs) !== undefined))!;
}

describe('R9b-1: a PHI table read at the top level and elsewhere is not listed from the top level alone', () => {
  const cases: Array<[string, string]> = [
    ['scalar subquery in the select list', 'SELECT p.id AS r1a, (SELECT q.ssn FROM clinical.patients q WHERE q.id = 7) FROM clinical.patients p WHERE p.id = 1'],
    ['LATERAL derived table', 'SELECT p.id AS r1b, x.ssn FROM clinical.patients p, LATERAL (SELECT ssn FROM clinical.patients WHERE id = p.id + 6) x WHERE p.id = 1'],
    ['WITH query', 'WITH c AS (SELECT id + 0 AS k, ssn FROM clinical.patients) SELECT p.id AS r1c, c.ssn FROM clinical.patients p JOIN c ON c.k = p.id + 6 WHERE p.id = 1'],
    ['derived table without the subject column', 'SELECT p.id AS r1d, d.ssn FROM clinical.patients p JOIN (SELECT id + 0 AS k, ssn FROM clinical.patients) d ON d.k = 7 WHERE p.id = 1'],
  ];
  for (const [what, sql] of cases) {
    it(what, async () => {
      const c = await t.client(breakglass);
      const r = await c.query(sql);
      expect(r.rows.length).toBe(1);
      expect(r.fields.every((f) => !f.name.startsWith('gatehouse_subject'))).toBe(true);
      const marker = /AS (r1\w)/.exec(sql)![1]!;
      const s = (await outcomeFor(marker)).subjects?.['clinical.patients'];
      // Patient 7 was disclosed: a list naming patient 1 alone would be wrong.
      if (s?.status === 'listed') expect(s.hashes).toContain(hash(7));
      else expect(s).toMatchObject({ status: 'unknown' });
    });
  }

  it('a write with a writable CTE on its target table', async () => {
    const c = await t.client(bench);
    const r = await c.query("WITH r1e AS (UPDATE public.pgbench_rt9b SET filler = 'x' WHERE aid = 9 RETURNING aid) UPDATE public.pgbench_rt9b SET filler = 'y' WHERE aid = 2");
    expect(r.command).toBe('UPDATE');
    const s = (await outcomeFor('r1e')).subjects?.['public.pgbench_rt9b'];
    if (s?.status === 'listed') expect(s.hashes).toContain(hash(9));
    else expect(s).toMatchObject({ status: 'unknown' });
  });

  it('a plain self-join is still listed exactly', async () => {
    const c = await t.client(breakglass);
    await c.query('SELECT p.id AS r1f, q.id FROM clinical.patients p JOIN clinical.patients q ON q.id = p.id + 6 WHERE p.id = 1');
    expect((await outcomeFor('r1f')).subjects?.['clinical.patients']).toEqual({ status: 'listed', hashes: [hash(1), hash(7)], count: 2, truncated: false });
  });
});

describe('R9b-2: an Execute row limit does not apply to a write whose RETURNING Gatehouse added', () => {
  it('the client gets CommandComplete as without subject columns, and every written subject is listed', async () => {
    const run = async (port: number, token: string, marker: string, resultFormats: number[] = []): Promise<string[]> => {
      const w = await WireClient.connect(port, token);
      w.send(
        serialize.parse({ name: '', text: `WITH ${marker} AS (SELECT 1) UPDATE public.pgbench_rt9b SET filler = 'z' WHERE aid IN (3, 4, 5)` }),
        encodeBind({ portal: '', statement: '', paramFormats: [], params: [], resultFormats }),
        serialize.describe({ type: 'P', name: '' }),
        serialize.execute({ portal: '', rows: 1 }),
        serialize.sync(),
      );
      const [group] = await w.untilReady(1);
      w.close();
      return names(group!);
    };
    const expected = await run(ref.port, benchRef, 'r2ref', [0, 1]);
    expect(expected).toEqual(['parseComplete', 'bindComplete', 'noData', 'commandComplete', 'readyForQuery']);
    expect(await run(t.port, bench, 'r2a')).toEqual(expected);
    expect((await outcomeFor('r2a')).subjects?.['public.pgbench_rt9b']).toEqual({ status: 'listed', hashes: [3, 4, 5].map(hash), count: 3, truncated: false });
    // Result formats for a statement that returns no rows are ignored by PostgreSQL; Gatehouse's
    // added RETURNING must not make them an error (08P01, "bind message has 3 result formats").
    expect(await run(t.port, bench, 'r2b', [0, 1])).toEqual(expected);
  });
});

describe('R9b-3: ORDER BY a position past the select list does not sort by a hidden column', () => {
  it('fails with 42P10 as without subject columns, and the subjects are unknown', async () => {
    const agent = await t.token('agent-9', ['agents']);
    const agentRef = await ref.token('agent-9', ['agents']);
    const sqls = ['SELECT v.reason AS r3a FROM clinical.visits v ORDER BY 2 LIMIT 2', 'SELECT first_name AS r3b FROM clinical.patients ORDER BY 2 DESC LIMIT 2'];
    for (const sql of sqls) {
      const code = async (c: pg.Client): Promise<string> => c.query(sql).then(() => 'ok', (e: { code?: string }) => e.code ?? 'none');
      expect(await code(await ref.client(agentRef))).toBe('42P10');
      expect(await code(await t.client(agent)), sql).toBe('42P10');
    }
    // A position inside the select list still sorts, and the subjects are listed.
    const c = await t.client(agent);
    const r = await c.query('SELECT p.id AS r3c, p.first_name FROM clinical.patients p WHERE p.id IN (2, 3) ORDER BY 1 DESC');
    expect(r.rows.map((x) => x.r3c)).toEqual([3, 2]);
    expect((await outcomeFor('r3c')).subjects?.['clinical.patients']).toEqual({ status: 'listed', hashes: [hash(3), hash(2)], count: 2, truncated: false });
  });
});

describe('R9b-4: a write that changes the subject column does not list only the new subject', () => {
  it('UPDATE ... SET subject and ON CONFLICT DO UPDATE SET subject are unknown; other writes stay listed', async () => {
    const c = await t.client(bench);
    const r = await c.query('WITH r4a AS (SELECT 1) UPDATE public.pgbench_rt9b SET aid = aid + 100 WHERE aid = 10');
    expect([r.command, r.rowCount]).toEqual(['UPDATE', 1]);
    const s = (await outcomeFor('r4a')).subjects?.['public.pgbench_rt9b'];
    // Subject 10's row was changed: a list naming 110 alone would be wrong.
    if (s?.status === 'listed') expect(s.hashes).toContain(hash(10));
    else expect(s).toMatchObject({ status: 'unknown' });
    await c.query('WITH r4b AS (SELECT 1) INSERT INTO public.pgbench_rt9b (aid, filler) VALUES (1, NULL) ON CONFLICT (aid) DO UPDATE SET aid = 201');
    const u = (await outcomeFor('r4b')).subjects?.['public.pgbench_rt9b'];
    if (u?.status === 'listed') expect(u.hashes).toContain(hash(1));
    else expect(u).toMatchObject({ status: 'unknown' });
    await c.query("WITH r4c AS (SELECT 1) UPDATE public.pgbench_rt9b SET filler = 'w' WHERE aid = 6");
    expect((await outcomeFor('r4c')).subjects?.['public.pgbench_rt9b']).toEqual({ status: 'listed', hashes: [hash(6)], count: 1, truncated: false });
  });
});

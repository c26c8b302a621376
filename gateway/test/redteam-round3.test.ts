// Third red-team round against Gatehouse with the example HIPAA policies: an identity in `agents`
// must never get clinical.patients.ssn (masked `redact`) out of Gatehouse, and must not run what the
// example policies deny.
//
// Every test asserts the SECURE behaviour. The "bypasses" block holds one test per bypass this
// round found, now closed (computing on a masked value in the output is refused; two-phase commit
// has its own statement kind, denied by default; row locks are a policy fact, denied to agents):
//   R3-1 timing: a masked value controls how long the statement runs (one digit per statement)
//   R3-2 COMMIT PREPARED / ROLLBACK PREPARED pass as "transaction control" for agents
//   R3-3 SELECT ... FOR UPDATE: a read-only identity takes row locks that block writers
// The "blocked" block holds probes of this round that Gatehouse already stops (regression tests).
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_rt3 npx vitest run gateway/test/redteam-round3.test.ts

import { describe, expect, it } from 'vitest';
import { sqlstateOf } from './support/harness.ts';
import { probe, useRedTeam } from './support/redteam.ts';
import { rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red team round 3, ${engine} engine`, () => {
    const rt = useRedTeam(engine, 'agent-red3');
    const { leaks, agent } = rt;

    describe('bypasses found in round 3 (each must stay closed)', () => {
      it('R3-1: an output expression over a masked column makes the run time depend on its value (a digit per statement)', async () => {
        // The result column is masked (NULL), and no masked column is used outside the SELECT list,
        // so the statement passes the side-channel check; but repeat()/md5() are immutable builtins
        // whose cost grows with the value they are given. digit d → about d × 60 ms.
        const rows = (await rt.direct.query('SELECT id, substr(ssn, 2, 1) AS d FROM clinical.patients ORDER BY id')).rows as { id: number; d: string }[];
        const low = rows.find((r) => r.d === '0');
        const high = rows.find((r) => Number(r.d) >= 7);
        expect(low && high, 'the seed has patients with second SSN digit 0 and ≥ 7').toBeTruthy();
        const c = await agent();
        const timed = async (id: number): Promise<number | 'refused'> => {
          const sql = `SELECT id, md5(repeat('x', (ascii(substr(ssn, 2, 1)) - 48) * 4000000)) AS z FROM clinical.patients WHERE id = ${id}`;
          let best = Infinity;
          for (let i = 0; i < 2; i++) {
            const t0 = performance.now();
            try {
              await c.query(sql);
            } catch (e) {
              if ((e as { code?: string }).code === '0A000') return 'refused';
              throw e;
            }
            best = Math.min(best, performance.now() - t0);
          }
          return best;
        };
        const tLow = await timed(low!.id);
        const tHigh = await timed(high!.id);
        if (tLow === 'refused' || tHigh === 'refused') {
          expect(tLow).toBe('refused');
          expect(tHigh).toBe('refused');
          return;
        }
        // Today: ~20 ms for digit 0 against ~400+ ms for digit 7, every time.
        expect(tHigh - tLow, `digit ${low!.d}: ${tLow.toFixed(0)} ms, digit ${high!.d}: ${tHigh.toFixed(0)} ms`).toBeLessThan(150);
      }, 60_000);

      it('R3-2: COMMIT PREPARED / ROLLBACK PREPARED of any session\'s two-phase transaction is not refused for agents', async () => {
        // Classified as "transaction" (sql/statement-kind.ts TransactionStmt) and permitted by
        // statement-session. Every client shares Gatehouse's upstream role, so PostgreSQL lets any
        // of them finish any prepared transaction: an agent could commit a write that waits for
        // approval elsewhere, or roll back another application's work. The server's own 42704
        // ("does not exist") shows the statement was forwarded.
        const c = await agent();
        for (const sql of ["COMMIT PREPARED 'rt3_other_session'", "ROLLBACK PREPARED 'rt3_other_session'"]) {
          expect.soft(await sqlstateOf(c, sql), sql).toBe('42501');
        }
      });

      it('R3-3: SELECT ... FOR UPDATE lets a read-only identity lock clinical rows and block writers', async () => {
        // Row-locking clauses are not recorded (no write fact, no lock kind), so the statement is a
        // plain read; PostgreSQL itself requires UPDATE privilege for FOR UPDATE.
        const c = await agent();
        await c.query('BEGIN');
        const code = await sqlstateOf(c, 'SELECT id FROM clinical.visits WHERE id = 1 FOR UPDATE');
        let writer: string | null = null;
        try {
          await rt.direct.query('BEGIN');
          await rt.direct.query("SET LOCAL lock_timeout = '300ms'");
          await rt.direct.query('UPDATE clinical.visits SET notes = notes WHERE id = 1');
        } catch (e) {
          writer = (e as { code?: string }).code ?? 'error';
        } finally {
          await rt.direct.query('ROLLBACK');
          await c.query('ROLLBACK').catch(() => undefined);
        }
        expect.soft(writer, 'a writer is blocked by the agent\'s row lock (55P03)').toBeNull();
        expect(code).toBe('42501');
      });
    });

    describe('blocked (regression)', () => {
      it('row-limited binary portal: every chunk after PortalSuspended and a re-Describe stays masked', async () => {
        const w = await WireClient.connect(rt.gateway.port, rt.token);
        w.send(serialize.query('BEGIN'));
        await w.untilReady(1);
        w.send(
          serialize.parse({ name: 's1', text: 'SELECT id, ssn, mrn, phone FROM clinical.patients ORDER BY id' }),
          serialize.describe({ type: 'S', name: 's1' }),
          serialize.bind({ statement: 's1', portal: 'p1', binary: true } as Parameters<typeof serialize.bind>[0]),
          serialize.execute({ portal: 'p1', rows: 2 }),
          serialize.describe({ type: 'P', name: 'p1' }),
          serialize.execute({ portal: 'p1', rows: 2 }),
          serialize.execute({ portal: 'p1' }),
          serialize.sync(),
        );
        const [g] = await w.untilReady(1);
        w.close();
        const rows = rowsOf(g ?? []);
        expect(rows.length).toBe(rt.ssns.length);
        expect(leaks(rows)).toBe(false);
      });

      it('a statement described under one search_path and executed under another does not run on stale columns', async () => {
        const w = await WireClient.connect(rt.gateway.port, rt.token);
        const q = async (sql: string): Promise<Message[]> => {
          w.send(serialize.query(sql));
          return (await w.untilReady(1))[0] ?? [];
        };
        await q('SET search_path = clinical');
        w.send(serialize.parse({ name: 's2', text: 'SELECT id, ssn FROM patients ORDER BY id LIMIT 2' }), serialize.describe({ type: 'S', name: 's2' }), serialize.sync());
        await w.untilReady(1);
        await q('SET search_path = public');
        w.send(serialize.bind({ statement: 's2', portal: 'p2' }), serialize.execute({ portal: 'p2' }), serialize.sync());
        const [g] = await w.untilReady(1);
        w.close();
        expect(leaks(rowsOf(g ?? []))).toBe(false);
      });

      it('a masked result of 1.2 million rows (many TCP chunks) stays masked', async () => {
        const c = await agent();
        const r = await c.query('SELECT p.id, p.ssn FROM clinical.patients p, generate_series(1, 20000) g');
        expect(r.rows.length).toBe(rt.ssns.length * 20000);
        expect(leaks(r.rows)).toBe(false);
      }, 60_000);

      it('EXPLAIN, SELECT INTO, cursors and COPY over the masked table run on masked values, or are denied by policy', async () => {
        const c = await agent();
        for (const [sql, code] of [
          ["EXPLAIN ANALYZE SELECT id FROM clinical.patients WHERE ssn LIKE '1%'", null],
          ["EXPLAIN SELECT id FROM clinical.patients WHERE ssn = '123-45-6789'", null],
          ['SELECT id, ssn INTO TEMP rt3 FROM clinical.patients', '42501'],
          ['SELECT * FROM ROWS FROM (unnest(ARRAY(SELECT ssn FROM clinical.patients)))', null],
        ] as const) {
          const r = await probe(c, sql);
          expect.soft(r.code, sql).toBe(code);
          expect.soft(leaks(r), sql).toBe(false);
        }
        // EXPLAIN ANALYZE counts rows that match the masked value: none begins with '1'.
        const analyzed = JSON.stringify((await c.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM clinical.patients WHERE ssn LIKE '1%'")).rows);
        expect(analyzed).toMatch(/actual rows=0/);
        const plan = await c.query('EXPLAIN (VERBOSE, FORMAT JSON) SELECT id, ssn FROM clinical.patients');
        expect(leaks(plan.rows)).toBe(false);
      });

      it('lengths, bytea, arrays, jsonb and rows of a masked column are those of the masked value (no length leak)', async () => {
        const c = await agent();
        // Masked at the source: every computation sees '***', whatever the real value's length.
        for (const [e, masked] of [
          ['length(ssn)', 3],
          ['octet_length(ssn)', 3],
          ['encode(ssn::bytea, \'escape\')', '***'],
          ['array[ssn]', ['***']],
          ['to_jsonb(ssn)', '***'],
          ['row(ssn)::text', '(***)'],
        ] as const) {
          const rows = (await c.query(`SELECT ${e} AS a FROM clinical.patients LIMIT 3`)).rows;
          expect.soft(rows.map((r) => r.a), e).toEqual([masked, masked, masked]);
        }
        // An outer reference from a subquery over another table is the masked column too.
        const r = await c.query('SELECT (SELECT ssn FROM clinical.visits LIMIT 1) AS g FROM clinical.patients LIMIT 3');
        expect(r.rows).toEqual([{ g: '***' }, { g: '***' }, { g: '***' }]);
      });
    });
  });
}

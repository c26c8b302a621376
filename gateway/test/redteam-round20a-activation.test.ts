// Red-team round 20a, second part (the first: redteam-round20a.test.ts): what a transaction's snapshot or an
// open cursor carries across a policy activation (area 5 and 3), and temporary objects shadowing names (area
// 6). Real Gatehouse, real PostgreSQL, both engines; each test asserts the SECURE behaviour.
//
// Findings:
// R20a-2 (medium, FIXED; needed an operator to lift a mask after scrubbing the column): a REPEATABLE READ
//   (or SERIALIZABLE) transaction begun while a column was masked kept its snapshot; the operator scrubs
//   the column and then lifts its mask (nothing secret is left in it, as of now); the transaction's next
//   read was decided by the new policy (unmasked) and read its snapshot's rows: the stored secret, raw,
//   which the identity never could read. The same held for rows deleted before a table is opened to an
//   identity. Fixed (pg/revision-fence.ts): a transaction block lives under the policy revision it began
//   with; after an activation its statements are refused with 40001 (serialization_failure: roll back and
//   retry, which clients already do), COMMIT and ROLLBACK still go through.
// R20a-3 (low, FIXED; revocation lag): a cursor declared WITH HOLD while a column was readable raw kept
//   returning raw values after a policy commit masked the column, for the life of the session: FETCH is
//   decided as a cursor statement, not against the cursor's query (an Execute of a prepared statement in
//   the same position is refused: its masks changed). Fixed as R20a-2: a FETCH or MOVE (simple or extended)
//   and a portal Execute of a cursor declared under an earlier revision are refused with 40001 ("declare
//   it again").
// Tests beside them: COMMIT/ROLLBACK after the refusal and the next transaction under the new revision, a
//   block that ran only BEGIN, an extended-protocol statement in an older block, a SQL cursor's portal
//   Execute (raw wire client), an autocommit session (unaffected), a cursor declared after the activation.
//
// Held (tests below):
// - Area 6 (an identity allowed scratch DDL in pg_temp): a temp table turned into a view by an ON SELECT
//   "_RETURN" rule, a temp view, CREATE TEMP TABLE AS, an ON INSERT DO ALSO SELECT rule, all over
//   clinical.patients: their stored queries are the masked rewrite; INHERITS / LIKE a masked table: 0A000;
//   a temp "patients" first in search_path, also dropped earlier in the same string: the bare name is
//   decided as clinical.patients and read masked. Functions and operators are never looked up in pg_temp by
//   PostgreSQL; the mask expressions cast raw values to pg_catalog.text (a temp type named text meets only
//   masked values).
// - Area 5 (catalog side, by reading): Gatehouse's catalog reads take fresh snapshots; a REPEATABLE READ
//   check of a pinned trigger sees a newer committed pg_proc row through xmax (R18b-3's docs).
//
//
// Run: GATEHOUSE_TEST_DB=gh_rt20a npx vitest run --project integration gateway/test/redteam-round20a-activation.test.ts

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, auditText, readAudit, startTestGateway, type TestGateway } from './support/harness.ts';
import { useLedgerGateway } from './support/ledger-activation.ts';
import { shown } from './support/shown-text.ts';
import { waitFor } from './support/wait-for.ts';
import { WireClient, errorCodes, rowsOf, serialize } from './support/wire-client.ts';
import { mintDevToken } from '../src/auth/dev-keys.ts';

const SECRET = '731-20-5151';

// Areas 3 and 5: what a transaction's snapshot or an open cursor carries across a policy activation. The
// policy comes from a git repository (policies.git), activated by refreshPolicies, as in production.
for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20a: snapshots and cursors across a policy activation (${engine})`, () => {
    const ledger = useLedgerGateway('r20a', engine, SECRET, true);
    const reader = (): Promise<pg.Client> => ledger.reader();
    const activate = (masked: boolean): Promise<void> => ledger.activate(masked);


    // R20a-2: the secret is scrubbed from the table, then its mask lifted; a REPEATABLE READ transaction
    // begun before the scrub reads the rows of its snapshot under the new policy: the stored secret, raw.
    it('R20a-2: a REPEATABLE READ snapshot taken under a mask does not show the scrubbed secret after the mask is lifted', async () => {
      const c = await reader();
      try {
        await ledger.direct.query(`UPDATE public.r20a_ledger SET secret = '${SECRET}'`);
        await activate(true);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        expect((await c.query('SELECT secret FROM public.r20a_ledger')).rows).toEqual([{ secret: '***' }]);
        // The operator scrubs the column, then lifts its mask (nothing secret is left in it, as of now).
        await ledger.direct.query("UPDATE public.r20a_ledger SET secret = 'scrubbed'");
        await activate(false);
        expect((await (await reader()).query('SELECT secret FROM public.r20a_ledger')).rows).toEqual([{ secret: 'scrubbed' }]);
        const got = await c.query('SELECT secret FROM public.r20a_ledger').then((r) => r.rows, (e: pg.DatabaseError) => e.code);
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001'); // the policy changed during the transaction: retry it
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    // R20a-3: a WITH HOLD cursor declared while the column was readable raw keeps returning it after a
    // policy commit masks it; an Execute of a prepared statement would be refused (its masks changed).
    it('R20a-3: a WITH HOLD cursor declared before a mask is activated returns no raw value after it', async () => {
      const c = await reader();
      try {
        await ledger.direct.query(`UPDATE public.r20a_ledger SET secret = '${SECRET}'`);
        await activate(false);
        await c.query('BEGIN');
        await c.query('DECLARE h CURSOR WITH HOLD FOR SELECT secret FROM public.r20a_ledger');
        await c.query('COMMIT');
        await activate(true);
        expect((await (await reader()).query('SELECT secret FROM public.r20a_ledger')).rows).toEqual([{ secret: '***' }]);
        const got = await c.query('FETCH ALL FROM h').then((r) => r.rows, (e: pg.DatabaseError) => e.code);
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001'); // declare it again
        // MOVE, and FETCH as a prepared statement (extended protocol), likewise.
        expect(await c.query('MOVE ABSOLUTE 0 IN h').then(() => 'moved', (e: pg.DatabaseError) => e.code)).toBe('40001');
        const prepared = await c.query({ name: 'r20a-fetch', text: 'FETCH ALL FROM h' }).then((r) => r.rows, (e: pg.DatabaseError) => e.code);
        expect(shown(prepared)).not.toContain(SECRET);
        expect(prepared).toBe('40001');
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    // What the fence leaves alone, and how a client gets out of a refused block.
    const secretNow = async (c: pg.Client): Promise<unknown> => c.query('SELECT secret FROM public.r20a_ledger').then((r) => r.rows, (e: pg.DatabaseError) => e.code);

    for (const end of ['ROLLBACK', 'COMMIT'] as const) {
      it(`after the refusal, ${end} ends the block and the next transaction runs under the new revision`, async () => {
        const c = await reader();
        try {
          await ledger.direct.query("UPDATE public.r20a_ledger SET secret = 'plain'");
          await activate(true);
          await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
          expect(await secretNow(c)).toEqual([{ secret: '***' }]);
          await activate(false);
          expect(await secretNow(c)).toBe('40001');
          await c.query(end); // resolves: PostgreSQL answers ROLLBACK to a COMMIT of a failed block
          await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
          expect(await secretNow(c)).toEqual([{ secret: 'plain' }]);
          await c.query('COMMIT');
        } finally {
          await c.query('ROLLBACK').catch(() => undefined);
          await c.end().catch(() => undefined);
        }
      });
    }

    it('a block that ran only BEGIN before the activation is refused too (it began under the older revision)', async () => {
      const c = await reader();
      try {
        await ledger.direct.query(`UPDATE public.r20a_ledger SET secret = '${SECRET}'`);
        await activate(true);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await activate(false);
        const got = await secretNow(c);
        expect(got).toBe('40001');
        await c.query('ROLLBACK');
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('a statement of an extended-protocol batch in a block begun before the activation is refused', async () => {
      const c = await reader();
      try {
        await ledger.direct.query(`UPDATE public.r20a_ledger SET secret = '${SECRET}'`);
        await activate(true);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        expect((await c.query('SELECT secret FROM public.r20a_ledger WHERE id = $1', [1])).rows).toEqual([{ secret: '***' }]);
        await ledger.direct.query("UPDATE public.r20a_ledger SET secret = 'scrubbed'");
        await activate(false);
        const got = await c.query('SELECT secret FROM public.r20a_ledger WHERE id = $1', [1]).then((r) => r.rows, (e: pg.DatabaseError) => e.code);
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001');
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('an Execute of a WITH HOLD cursor (the portal of a SQL DECLARE) declared before the activation is refused, and one declared again reads under the new revision', async () => {
      await ledger.direct.query(`UPDATE public.r20a_ledger SET secret = '${SECRET}'`);
      await activate(false);
      const token = await mintDevToken({ keyDir: join(ledger.workDir, 'keys'), subject: `r20a-reader-${engine}`, groups: ['r20a-readers'], ttlSeconds: 600 });
      const w = await WireClient.connect(ledger.gw.port, token);
      try {
        w.send(serialize.query('BEGIN; DECLARE w CURSOR WITH HOLD FOR SELECT secret FROM public.r20a_ledger; COMMIT'));
        expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
        await activate(true);
        w.send(serialize.execute({ portal: 'w', rows: 0 }), serialize.sync());
        const [executed] = await w.untilReady(1);
        expect(shown(rowsOf(executed!))).not.toContain(SECRET);
        expect(errorCodes(executed!)).toEqual(['40001']);
        // Audited as the FETCH it amounts to (pg/cursor-execute.ts), refused with 40001.
        const refusedOutcome = await waitFor('the outcome of the refused Execute', () => {
          const records = readAudit(join(ledger.workDir, 'audit.ndjson'));
          const stated = records.filter((r) => r.type === 'statement' && r.statement === 'FETCH ALL FROM "w"');
          const ids = new Set(stated.map((r) => (r.type === 'statement' ? r.decision_id : '')));
          return records.find((r) => r.type === 'outcome' && ids.has(r.decision_id));
        });
        expect(refusedOutcome).toMatchObject({ outcome: { status: 'refused', sqlstate: '40001' } });
        w.send(serialize.query('CLOSE w'));
        expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
        w.send(serialize.query('BEGIN; DECLARE w CURSOR WITH HOLD FOR SELECT secret FROM public.r20a_ledger; COMMIT'));
        expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
        w.send(serialize.query('FETCH ALL FROM w'));
        const [fetched] = await w.untilReady(1);
        expect(errorCodes(fetched!)).toEqual([]);
        expect(rowsOf(fetched!)).toEqual([['***']]);
      } finally {
        w.close();
      }
    });

    it('an autocommit session is unaffected by an activation (simple and extended protocol)', async () => {
      const c = await reader();
      try {
        await ledger.direct.query("UPDATE public.r20a_ledger SET secret = 'plain'");
        await activate(true);
        expect(await secretNow(c)).toEqual([{ secret: '***' }]);
        expect((await c.query('SELECT secret FROM public.r20a_ledger WHERE id = $1', [1])).rows).toEqual([{ secret: '***' }]);
        await activate(false);
        expect(await secretNow(c)).toEqual([{ secret: 'plain' }]);
        expect((await c.query('SELECT secret FROM public.r20a_ledger WHERE id = $1', [1])).rows).toEqual([{ secret: 'plain' }]);
      } finally {
        await c.end().catch(() => undefined);
      }
    });

    it('a cursor declared after the activation is read as usual', async () => {
      const c = await reader();
      try {
        await ledger.direct.query("UPDATE public.r20a_ledger SET secret = 'plain'");
        await activate(true);
        await c.query('BEGIN');
        await c.query('DECLARE h2 CURSOR WITH HOLD FOR SELECT secret FROM public.r20a_ledger');
        await c.query('COMMIT');
        await activate(false);
        await c.query('BEGIN');
        await c.query('DECLARE h3 CURSOR WITH HOLD FOR SELECT secret FROM public.r20a_ledger');
        await c.query('COMMIT');
        expect((await c.query('FETCH ALL FROM h3')).rows).toEqual([{ secret: 'plain' }]);
        expect((await c.query({ name: 'r20a-fetch-h3', text: 'MOVE ABSOLUTE 0 IN h3' })).rowCount).toBe(0);
        expect((await c.query('FETCH ALL FROM h2').then((r) => r.rows, (e: pg.DatabaseError) => e.code))).toBe('40001');
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('the audit log holds no stored secret', () => {
      expect(auditText(join(ledger.workDir, 'audit.ndjson'))).not.toContain(SECRET);
    });
  });
}

// Area 6: temporary objects shadowing names, for an identity whose policy allows scratch tables in pg_temp
// (docs/policies.md) and reads clinical.patients with the example masks.
const SCRATCH = {
  rego: `package gatehouse

mask contains {"id": "r20a-scratch-patients", "reason": "patients masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("r20a-scratch")
	some t in input.statement.tables_read
	t == "clinical.patients"
	some column, strategy in patient_masks
}

allow contains {"id": "r20a-scratch-temp", "reason": "scratch tables", "on": on, "table": t} if {
	member("r20a-scratch")
	some on in ["read", "write"]
	some t in array.concat(input.statement.tables_read, input.statement.tables_written)
	schema_of(t) == "pg_temp"
}

allow contains {"id": "r20a-scratch-ddl", "reason": "scratch DDL", "on": "execute"} if {
	member("r20a-scratch")
	input.statement.kind == "ddl"
}
`,
  cedar: `@id("r20a-scratch-patients")
@reason("patients masked")
@mask("mrn:hash,first_name:redact,last_name:redact,ssn:redact,date_of_birth:fake_date,phone:last4,email:hash,address:null")
permit (principal in Gatehouse::Group::"r20a-scratch", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.patients");

@id("r20a-scratch-temp")
@reason("scratch tables")
permit (principal in Gatehouse::Group::"r20a-scratch", action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource is Gatehouse::Table)
when { resource.schema == "pg_temp" };

@id("r20a-scratch-ddl")
@reason("scratch DDL")
permit (principal in Gatehouse::Group::"r20a-scratch", action == Gatehouse::Action::"execute", resource)
when { context.kind == "ddl" };
`,
} as const;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20a: temporary objects shadowing names (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let ssns: string[];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `gatehouse-r20a-scratch-${engine}-`));
      cpSync(join(REPO_ROOT, 'policies', engine), dir, { recursive: true, filter: (src) => !src.endsWith('_test.rego') });
      writeFileSync(join(dir, engine === 'rego' ? 'r20a_scratch.rego' : 'r20a_scratch.cedar'), SCRATCH[engine]);
      t = await startTestGateway({ engine, policiesDir: dir });
      const direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => (r as { ssn: string }).ssn);
      await direct.end();
    });
    afterAll(async () => {
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('held: temp tables, views and rules over clinical.patients, a temp "patients" first in search_path, and DROP then read in one string show masked values only', async () => {
      const c = await t.client(await t.token(`r20a-scratch-${engine}`, ['r20a-scratch']));
      const seen: unknown[] = [];
      const run = async (sql: string): Promise<unknown> => {
        const r = await c.query(sql).then((x) => (Array.isArray(x) ? x.map((y) => y.rows) : x.rows), (e: pg.DatabaseError) => ({ code: e.code, message: e.message, detail: e.detail }));
        seen.push([sql, r]);
        return r;
      };
      try {
        // The premise: scratch DDL runs, patients come back masked.
        expect(await run('CREATE TEMP TABLE r20a_t1 (id int, ssn text)')).toEqual([]);
        expect(await run('SELECT ssn FROM clinical.patients WHERE id = 1')).toEqual([{ ssn: '***' }]);
        // PostgreSQL 15 still turns an empty table into a view with an ON SELECT "_RETURN" rule.
        await run('CREATE RULE "_RETURN" AS ON SELECT TO pg_temp.r20a_t1 DO INSTEAD SELECT id, ssn FROM clinical.patients');
        await run('SELECT * FROM pg_temp.r20a_t1 ORDER BY id LIMIT 3');
        await run('CREATE TEMP VIEW r20a_v1 AS SELECT id, ssn FROM clinical.patients');
        await run('SELECT * FROM pg_temp.r20a_v1 ORDER BY id LIMIT 3');
        await run('CREATE TEMP TABLE r20a_t2 AS SELECT id, ssn FROM clinical.patients');
        await run('SELECT * FROM pg_temp.r20a_t2 ORDER BY id LIMIT 3');
        await run('CREATE TEMP TABLE r20a_t3 (id int, ssn text)');
        await run('CREATE RULE r20a_r3 AS ON INSERT TO pg_temp.r20a_t3 DO ALSO SELECT id, ssn FROM clinical.patients');
        await run("INSERT INTO pg_temp.r20a_t3 VALUES (1, 'x')");
        await run('CREATE TEMP TABLE r20a_t4 () INHERITS (clinical.patients)');
        await run('CREATE TEMP TABLE r20a_t5 (LIKE clinical.patients INCLUDING ALL)');
        // A temporary "patients" first in the path: the bare name is decided as clinical.patients (stricter).
        await run('CREATE TEMP TABLE patients (id int, ssn text)');
        await run("INSERT INTO pg_temp.patients VALUES (1, 'own')");
        await run('SET search_path = pg_temp, clinical');
        await run('SELECT ssn FROM patients ORDER BY id LIMIT 3');
        // Dropped in the string that then reads the bare name: decided up front, the read is masked.
        await run('DROP TABLE pg_temp.patients; SELECT ssn FROM patients ORDER BY id LIMIT 3');
        const text = shown(seen);
        expect(text).toContain('***');
        for (const ssn of ssns) expect(text, ssn).not.toContain(ssn);
      } finally {
        await c.end().catch(() => undefined);
      }
      const audit = auditText(t.auditFile);
      for (const ssn of ssns) expect(audit, ssn).not.toContain(ssn);
    });
  });
}

// Red-team round 20c, second part (the first: redteam-round20c.test.ts): code Gatehouse's upstream role
// defines, run inside a masked write through a name a reviewed trigger's body resolves when it runs
// (pg/by-name-reach.ts, enforce/replaceable-functions.ts). Real Gatehouse connected as the non-superuser
// role of support/upstream-role.ts (CREATE on no schema, owns no function: canDefine is null), here with
// TEMPORARY on a database of the test's own (as PUBLIC has on every database by default), both engines,
// the writer also allowed scratch DDL in pg_temp (docs/policies.md, as redteam-round20a area 6).
//
// R20c-3 (high where a masked identity may run scratch DDL; fixed): by-name-reach.ts counted only real
//   schemas, because PostgreSQL never searches pg_temp for FUNCTION or OPERATOR names; but it searches
//   pg_temp for TYPE (and relation) names, first (before pg_catalog) unless the path lists it.
//   trigger-review.ts requires the reviewed trigger's own path to end in pg_temp (held: a reviewed trigger
//   without it is refused, 0A000), but not the functions it calls by name: an administrator's helper with
//   `SET search_path = ''` (what linters advise) and a variable of type `text` compiles `text` in the
//   writer's session. The writer creates `pg_temp.text`, a domain over pg_catalog.text whose CHECK calls
//   pg_temp.rtc_grab (a temp function named with its schema, which PostgreSQL does find) writing VALUE
//   into a temp table; the masked UPDATE fires the reviewed trigger, the helper runs the writer's CHECK
//   with OLD.secret, and a SELECT of the temp table showed the stored secret raw. Without a domain: any
//   temporary relation has a row type named after it, so `CREATE TEMP TABLE text (...)` turns the
//   helper's assignment into record input of the secret, whose error (`malformed record literal:
//   "<secret>"`, 22P02) would echo it: Gatehouse withholds that message (routine code's error while
//   writing a masked table), but the writer's type is met all the same. Fixed: a role that may create temporary objects in the database (TEMPORARY, PUBLIC's by
//   default) counts as one that can put types in such a body's way, unless every body that resolves
//   names when it runs sets its own search_path ending in pg_temp: the write is refused up front (0A000,
//   the message naming the database and the first function whose path does not; the hint the REVOKE).
// Held: a reviewed trigger whose own body declares `text` without its path ending in pg_temp is refused
//   (trigger-review.ts; checked during this round, first version of this test); with the helper's path
//   ending in pg_temp, the write runs and the writer's domain is not met.
//
// Run: GATEHOUSE_TEST_DB=gh_rt20c npx vitest run --project integration gateway/test/redteam-round20c-temp-type.test.ts

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';
import { shown } from './support/shown-text.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { tablesAfresh } from './support/writer-round.ts';

const SECRET = '731-20-5353';
/** A database of the test's own: Gatehouse's role may create temporary objects there (and only there). */
const DATABASE = `${TEST_DB}_r20c_temp`;

const SETUP = `
CREATE TABLE clinical.rtc_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.rtc_kept VALUES (1, 'n', '${SECRET}');
CREATE TABLE public.rtc_log (v text);
-- The administrator's helper, path pinned to nothing (SET search_path = '', as linters advise): it keeps
-- nothing, but holds its argument in a variable of type text.
CREATE FUNCTION public.rtc_note(x pg_catalog.text) RETURNS void LANGUAGE plpgsql SET search_path = ''
  AS $$ DECLARE v text; BEGIN v := x; RETURN; END $$;
-- The administrator's reviewed trigger: path pinned, pg_temp last; it calls the helper by its full name.
CREATE FUNCTION clinical.rtc_keep() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$ BEGIN PERFORM public.rtc_note(OLD.secret); RETURN NEW; END $$;
CREATE TRIGGER rtc_kept BEFORE UPDATE ON clinical.rtc_kept FOR EACH ROW EXECUTE FUNCTION clinical.rtc_keep();
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.rtc_kept, public.rtc_log CASCADE;
DROP FUNCTION IF EXISTS clinical.rtc_keep(), public.rtc_note(pg_catalog.text);
`;

const SCRATCH = {
  rego: `package gatehouse

allow contains {"id": "rtc-scratch-temp", "reason": "scratch tables", "on": on, "table": t} if {
	member("rtc-writers")
	some on in ["read", "write"]
	some t in array.concat(input.statement.tables_read, input.statement.tables_written)
	schema_of(t) == "pg_temp"
}

allow contains {"id": "rtc-scratch-ddl", "reason": "scratch DDL", "on": "execute"} if {
	member("rtc-writers")
	input.statement.kind == "ddl"
}
`,
  cedar: `@id("rtc-scratch-temp")
@reason("scratch tables")
permit (principal in Gatehouse::Group::"rtc-writers", action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource is Gatehouse::Table)
when { resource.schema == "pg_temp" };

@id("rtc-scratch-ddl")
@reason("scratch DDL")
permit (principal in Gatehouse::Group::"rtc-writers", action == Gatehouse::Action::"execute", resource)
when { context.kind == "ddl" };
`,
} as const;

/** The write the reviewed trigger fires on. */
const WRITE = (note: string): string => `UPDATE clinical.rtc_kept SET note = '${note}' WHERE id = 1 RETURNING note`;
/** The writer's domain: `text` in its session, whose CHECK copies every value into a table of its own. */
const DOMAIN = [
  'CREATE TEMP TABLE rtc_seen (v pg_catalog.text)',
  'CREATE FUNCTION pg_temp.rtc_grab(x pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN INSERT INTO pg_temp.rtc_seen VALUES (x); RETURN true; END $f$',
  'CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.rtc_grab(VALUE))',
];

type Failure = { code?: string; message?: string; hint?: string };

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20c: a temp type shadowing a reviewed trigger's type name, under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;

    /** A new writer session (the trigger's and the helper's bodies are compiled again in it): runs, recording in `seen` what came back. */
    const writer = async (): Promise<{ run: (sql: string | pg.QueryConfig) => Promise<unknown>; seen: unknown[]; end: () => Promise<void> }> => {
      const c = await t.client(await t.token(`rtc-writer-${engine}`, ['rtc-writers']));
      const seen: unknown[] = [];
      return {
        seen,
        run: async (sql) => {
          const r = await c.query(sql).then((x) => (Array.isArray(x) ? x.map((y) => y.rows) : x.rows), (e: pg.DatabaseError) => ({ code: e.code, message: e.message, detail: e.detail, hint: e.hint }));
          seen.push([sql, r]);
          return r;
        },
        end: () => c.end().catch(() => undefined),
      };
    };

    beforeAll(async () => {
      const url = await ensureClinicDatabase(DATABASE);
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      const digest = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.rtc_keep'])).rows[0] as { digest: string }).digest;
      const upstreamUrl = await nonSuperuserUpstream(url, { temporary: true });
      dir = writerPolicyDir(engine, { prefix: 'rtc', masked: ['clinical.rtc_kept'], plain: ['public.rtc_log'], writable: ['clinical.rtc_kept'], reviewed: [`clinical.rtc_keep@${digest}`], adminWrites: 'public.rtc_log' });
      writeFileSync(join(dir, engine === 'rego' ? 'rtc_scratch.rego' : 'rtc_scratch.cedar'), SCRATCH[engine]);
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl });
    });
    afterAll(async () => {
      await t?.close();
      await direct?.query(CLEANUP).catch(() => undefined);
      await direct?.end();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('R20c-3: the session\'s temp domain `text` does not run its own code with the stored secret inside the masked write', async () => {
      const w = await writer();
      try {
        for (const sql of DOMAIN) expect(await w.run(sql)).toEqual([]);
        const refused = (await w.run(WRITE('b'))) as Failure;
        await w.run('SELECT v FROM pg_temp.rtc_seen');
        expect(shown(w.seen)).not.toContain(SECRET);
        // Refused before anything is sent, saying why and what to do.
        expect(refused.code).toBe('0A000');
        expect(refused.message).toContain('it runs clinical.rtc_keep, whose body resolves names when it runs');
        expect(refused.message).toContain(`can create temporary objects in database ${DATABASE}, and public.rtc_note does not set a search_path ending in pg_temp`);
        expect(refused.hint).toContain('REVOKE TEMPORARY ON DATABASE');
      } finally {
        await w.end();
      }
      expect(((await direct.query('SELECT note FROM clinical.rtc_kept')).rows[0] as { note: string }).note).toBe('n');
    });

    // Without the rule the helper's assignment runs record input on the stored secret: 22P02 `malformed
    // record literal: "<secret>"`, whose message and detail Gatehouse withholds (raised by routine code
    // while writing a masked table), so nothing is shown; but the writer's type was met inside the write.
    it('R20c-3: a temporary table named `text` (its row type) is not met inside the masked write: refused up front, nothing shown', async () => {
      const w = await writer();
      try {
        expect(await w.run('CREATE TEMP TABLE text (a integer, b integer)')).toEqual([]);
        // A simple Query, and Parse/Bind/Execute.
        const simple = (await w.run(WRITE('c'))) as Failure;
        const extended = (await w.run({ text: 'UPDATE clinical.rtc_kept SET note = $1 WHERE id = 1 RETURNING note', values: ['c'] })) as Failure;
        expect(shown(w.seen)).not.toContain(SECRET);
        expect(simple.code).toBe('0A000');
        expect(extended.code).toBe('0A000');
      } finally {
        await w.end();
      }
    });

    it('held: with the helper\'s own search_path ending in pg_temp, the write runs and the writer\'s domain is not met', async () => {
      await direct.query('ALTER FUNCTION public.rtc_note(pg_catalog.text) SET search_path = pg_temp');
      const w = await writer();
      try {
        // The writer's DDL through Gatehouse has the catalog read again: no function left whose path lets pg_temp go first.
        for (const sql of DOMAIN) expect(await w.run(sql)).toEqual([]);
        expect(await w.run(WRITE('d'))).toEqual([{ note: 'd' }]);
        expect(await w.run('SELECT v FROM pg_temp.rtc_seen')).toEqual([]);
        expect(await w.run('SELECT secret FROM clinical.rtc_kept')).toEqual([{ secret: '***' }]);
      } finally {
        await w.end();
        await direct.query("ALTER FUNCTION public.rtc_note(pg_catalog.text) SET search_path = ''");
      }
      expect(shown(w.seen)).not.toContain(SECRET);
    });
  });
}

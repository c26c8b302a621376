// Red-team round 20c, second part (the first: redteam-round20c.test.ts): code Gatehouse's upstream role
// defines, run inside a masked write through a name a reviewed trigger's body resolves when it runs
// (pg/by-name-reach.ts, enforce/replaceable-functions.ts). Real Gatehouse connected as the non-superuser
// role of support/upstream-role.ts (CREATE on no schema, owns no function: canDefine is null), both
// engines, the writer also allowed scratch DDL in pg_temp (docs/policies.md, as redteam-round20a area 6).
//
// R20c-3 (high where a masked identity may run scratch DDL; OPEN, it.fails): by-name-reach.ts counts only
//   real schemas, because PostgreSQL never searches pg_temp for FUNCTION or OPERATOR names; but it searches
//   pg_temp for TYPE names, first (before pg_catalog) unless the path lists it. trigger-review.ts requires
//   the reviewed trigger's own path to end in pg_temp (held: a reviewed trigger without it is refused,
//   0A000), but not the functions it calls by name: an administrator's helper with `SET search_path = ''`
//   (what linters advise) and `DECLARE v text := x` compiles `text` in the writer's session. The writer
//   creates `pg_temp.text`, a domain over pg_catalog.text whose CHECK calls pg_temp.rtc_grab (a temp
//   function named with its schema, which PostgreSQL does find) writing VALUE into a temp table; the
//   masked UPDATE fires the reviewed trigger, the helper runs the writer's CHECK with OLD.secret, and a
//   SELECT of the temp table shows the stored secret raw. Gatehouse's upstream role here can define no
//   code (CREATE on no schema, owns no function: canDefine null), so nothing refuses the write.
//   Principled fix: count pg_temp as a place code can be defined in for the by-name rule: a role with
//   TEMP on the database (PUBLIC has it by default) can define types a by-name body's unpinned path
//   meets first, so canDefine should name it ("can create temporary types: REVOKE TEMP ON DATABASE ...
//   FROM PUBLIC"); or refuse, under a mask, a write in a session that has created a type or domain in
//   pg_temp (CREATE TYPE/DOMAIN with a pg_temp target, decided as DDL, is visible to Gatehouse).
// Held: a reviewed trigger whose own body declares `text` without its path ending in pg_temp is refused
//   (trigger-review.ts; checked during this round, first version of this test).
//
// Run: GATEHOUSE_TEST_DB=gh_rt20c npx vitest run --project integration gateway/test/redteam-round20c-temp-type.test.ts

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { shown } from './support/shown-text.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { tablesAfresh } from './support/writer-round.ts';

const SECRET = '731-20-5353';

const SETUP = `
CREATE TABLE clinical.rtc_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.rtc_kept VALUES (1, 'n', '${SECRET}');
CREATE TABLE public.rtc_log (v text);
-- The administrator's helper, path pinned to nothing (SET search_path = '', as linters advise): it keeps
-- nothing, but holds its argument in a variable of type text.
CREATE FUNCTION public.rtc_note(x pg_catalog.text) RETURNS void LANGUAGE plpgsql SET search_path = ''
  AS $$ DECLARE v text := x; BEGIN RETURN; END $$;
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

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20c: a temp type shadowing a reviewed trigger's type name, under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;

    beforeAll(async () => {
      const url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      const digest = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.rtc_keep'])).rows[0] as { digest: string }).digest;
      const upstreamUrl = await nonSuperuserUpstream(url);
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

    it.fails('R20c-3: the session\'s temp domain `text` does not run its own code with the stored secret inside the masked write', async () => {
      const c = await t.client(await t.token(`rtc-writer-${engine}`, ['rtc-writers']));
      const seen: unknown[] = [];
      const run = async (sql: string): Promise<unknown> => {
        const r = await c.query(sql).then((x) => (Array.isArray(x) ? x.map((y) => y.rows) : x.rows), (e: pg.DatabaseError) => ({ code: e.code, message: e.message, detail: e.detail }));
        seen.push([sql, r]);
        return r;
      };
      try {
        // Premise: the write runs for this identity (masked reads, reviewed trigger, role that can define nothing).
        expect(await run("UPDATE clinical.rtc_kept SET note = 'a' WHERE id = 1 RETURNING note")).toEqual([{ note: 'a' }]);
        expect(await run('SELECT secret FROM clinical.rtc_kept')).toEqual([{ secret: '***' }]);
        // A fresh session (the trigger's body is compiled again in it), scratch objects first.
        await c.end();
        const d = await t.client(await t.token(`rtc-writer-${engine}`, ['rtc-writers']));
        const run2 = async (sql: string): Promise<unknown> => {
          const r = await d.query(sql).then((x) => (Array.isArray(x) ? x.map((y) => y.rows) : x.rows), (e: pg.DatabaseError) => ({ code: e.code, message: e.message, detail: e.detail }));
          seen.push([sql, r]);
          return r;
        };
        try {
          await run2('CREATE TEMP TABLE rtc_seen (v pg_catalog.text)');
          await run2(`CREATE FUNCTION pg_temp.rtc_grab(x pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN INSERT INTO pg_temp.rtc_seen VALUES (x); RETURN true; END $f$`);
          await run2('CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.rtc_grab(VALUE))');
          await run2("UPDATE clinical.rtc_kept SET note = 'b' WHERE id = 1 RETURNING note");
          await run2('SELECT v FROM pg_temp.rtc_seen');
        } finally {
          await d.end().catch(() => undefined);
        }
        expect(shown(seen)).not.toContain(SECRET);
      } finally {
        await c.end().catch(() => undefined);
      }
    });
  });
}

// Red-team round 20b, second part (the first: redteam-round20b.test.ts): functions a write under a mask runs
// that no review saw, area 3 of the brief ("trigger chains, a trigger added mid-session"). Real Gatehouse,
// real PostgreSQL, both engines; each test asserts the SECURE behaviour.
//
// R20b-3 (medium, FIXED on branch writes20 for reviews that declare what their function writes; needs DDL on a
//   table a reviewed trigger function writes, the premise of R18b-3): a reviewed trigger function (pinned by
//   digest, its own search_path) copies the old row, secret included, into a history table, as such functions
//   do. A trigger added afterwards on that history table (CREATE TRIGGER by its owner, directly on the server,
//   any time after the review) ran on every such write with the secret in NEW: here it copies it into a table
//   the writer reads unmasked. Before the fix the writer's UPDATE (which names no masked column) was allowed,
//   its check passed (the pinned function unchanged), it committed, and the writer read the secret raw; the
//   same with the chained function owned by Gatehouse's upstream role (ownrole20 saw the first link only).
//   Fix (enforce/trigger-chain.ts, policy/reviewed-entries.ts): a `reviewed` entry may end with
//   " writes <schema.table>[ <schema.table>...]" (space-separated: Cedar's @reviewed splits at commas); the
//   named tables' user triggers, and those of tables named by their functions' reviews (at most 16 levels),
//   are checked under a mask as the first link's (enforce/trigger-review.ts: any unreviewed one refuses the
//   write, 0A000), and the named tables join the fresh-catalog check (enforce/fresh-catalog.ts), so the
//   trigger created after the snapshot is seen before the write. An unknown table or a deeper chain makes the
//   declaring review vouch for nothing; a malformed writes part makes the entry malformed. combine.ts
//   withReviewed keeps the whole reviewed set when a fired function's entry declares writes (a chained
//   function's review can be any entry). Without `writes` nothing is followed (documented: such a review
//   vouches that the body writes no table with triggers). Both tests below failed without the chain code
//   (the secret read raw; the parser change alone kept); the all-reviewed chain test fails without the
//   parser change (the entry with writes is malformed: refused, and Cedar refuses to load it).
//   The replaceable-functions refusal (enforce/replaceable-functions.ts) also counts what writes to the chained
//   tables run that Gatehouse's upstream role could replace (RelationInfo.replaceableFunctions): a chained
//   function reviewed by name but owned by that role is refused. Its integration test here passes WITHOUT that
//   change too (ownrole20b's by-name rule already refuses: the first link's PL body calls by name while the
//   upstream role owns a function); a unit test (replaceable-functions.test.ts) fails without it.
//   STILL OPEN (not built): the chained functions are not in the post-write pin check (pg/pin-check.ts: a
//   chained function replaced while the write waits for a row lock is not caught), nor in the policy input
//   (statement.triggers / replaceable_functions keep the first link). A review warning
//   (policy/review-warnings.ts) for PL bodies reviewed without `writes` is not built either.
// R20b-4 (low, FIXED on branch chain20; lag, needs an administrator to give a function to Gatehouse's
//   upstream role): ownrole20 reads which functions the upstream role could replace with the relation
//   snapshot. A write's fresh-catalog check reads the written relations' fingerprints again, which held
//   their trigger functions' pg_proc versions but not those of the functions their CHECK constraints,
//   defaults, WHEN conditions or indexes call: after `ALTER FUNCTION public.r20b_check(integer) OWNER TO
//   <upstream role>` (a CHECK constraint's function), the writer's next masked write ran it, until the
//   background refresh (about 30 s here, without db setup's event trigger) made it refused (0A000;
//   measured by a polling probe, not kept). Fixed: the fingerprint (pg/relation-structure.ts) holds the
//   pg_proc row versions (xmin) of every function the relation's write calls besides triggers (the same
//   pg_depend walk as pg/relation-write-calls.ts WRITE_CALLS), so the check sees the change and reads the
//   snapshot again before deciding. The test failed without the fix ('ran' instead of 'error 0A000').
//
// Run: GATEHOUSE_TEST_DB=gh_rt20b npx vitest run --project integration gateway/test/redteam-round20b-chain.test.ts

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { shown } from './support/shown-text.ts';
import { nonSuperuserUpstream, UPSTREAM_ROLE } from './support/upstream-role.ts';
import { writerPolicyDir } from './support/writer-policies.ts';

const SECRET = '731-20-6262';

const SETUP = `
CREATE TABLE public.r20b_history (id integer, secret text);
CREATE TABLE public.r20b_plain (id integer, v text);
CREATE TABLE clinical.r20b_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r20b_kept VALUES (1, 'n', '${SECRET}');
CREATE FUNCTION clinical.r20b_keep_history() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO r20b_history VALUES (OLD.id, OLD.secret);
  RETURN NEW;
END$$;
CREATE TRIGGER r20b_kept BEFORE UPDATE ON clinical.r20b_kept FOR EACH ROW EXECUTE FUNCTION clinical.r20b_keep_history();
CREATE FUNCTION public.r20b_scrub() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  NEW.secret := 'scrubbed';
  RETURN NEW;
END$$;
CREATE FUNCTION public.r20b_named() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  RETURN NEW;
END$$;
CREATE FUNCTION public.r20b_copy() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO r20b_plain VALUES (NEW.id, NEW.secret);
  RETURN NEW;
END$$;
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.r20b_kept, public.r20b_history, public.r20b_plain CASCADE;
DROP FUNCTION IF EXISTS clinical.r20b_keep_history(), public.r20b_copy(), public.r20b_scrub(), public.r20b_named(), public.r20b_check(integer);
`;
/** A function a CHECK constraint of the written table calls (it reads nothing secret). */
const CHECK_FN = 'CREATE FUNCTION public.r20b_check(i integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT i > 0 $$';
/** The link added after the review: the history table's own trigger. */
const CHAIN = 'CREATE TRIGGER r20b_chain AFTER INSERT ON public.r20b_history FOR EACH ROW EXECUTE FUNCTION public.r20b_copy()';
/** A reviewed link on the history table (it writes nothing; reviewed and pinned like the first). */
const SCRUB = 'CREATE TRIGGER r20b_scrub BEFORE INSERT ON public.r20b_history FOR EACH ROW EXECUTE FUNCTION public.r20b_scrub()';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20b: a trigger chain under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;

    beforeAll(async () => {
      const url = await ensureClinicDatabase();
      direct = new pg.Client({ connectionString: url });
      await direct.connect();
      await direct.query(CLEANUP);
      await direct.query(SETUP);
      const digestOf = async (f: string): Promise<string> => ((await direct.query(FUNCTION_DIGEST_OF, [f])).rows[0] as { digest: string }).digest;
      const digest = await digestOf('clinical.r20b_keep_history');
      const scrub = await digestOf('public.r20b_scrub');
      dir = writerPolicyDir(engine, {
        prefix: 'r20b',
        masked: ['clinical.r20b_kept'],
        plain: ['public.r20b_plain'],
        writable: ['clinical.r20b_kept'],
        // The review says which table the function's body writes (R20b-3): that table's triggers run too.
        reviewed: [`clinical.r20b_keep_history@${digest} writes public.r20b_history`, `public.r20b_scrub@${scrub}`, 'public.r20b_named'],
        adminWrites: 'public.r20b_history',
      });
      // Gatehouse connects as a role that is not a superuser and owns none of the fixtures (ownrole20: under
      // a superuser upstream role every masked write firing a user trigger is refused).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: await nonSuperuserUpstream(url) });
    });
    afterAll(async () => {
      await direct?.query(CLEANUP).catch(() => undefined);
      await direct?.end();
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the premise: the writer reads secret masked and its reviewed write runs (the history gets the row)', async () => {
      const c = await t.client(await t.token(`r20b-writer-${engine}`, ['r20b-writers']));
      try {
        expect(shown((await c.query('SELECT secret FROM clinical.r20b_kept WHERE id = 1')).rows)).not.toContain(SECRET);
        await c.query("UPDATE clinical.r20b_kept SET note = 'a' WHERE id = 1");
        expect((await direct.query('SELECT count(*)::int AS n FROM public.r20b_history')).rows).toEqual([{ n: 1 }]);
      } finally {
        await c.end();
      }
    });

    /**
     * Adds the history table's copying trigger (CHAIN) after `before`, then the writer's update with `note`:
     * refused (0A000), and nothing of the secret readable where the chain would have copied it.
     */
    const expectChainRefused = async (note: string, before: string, after: string): Promise<void> => {
      const c = await t.client(await t.token(`r20b-writer-${engine}`, ['r20b-writers']));
      if (before !== '') await direct.query(before);
      await direct.query(CHAIN);
      try {
        const wrote = await c.query(`UPDATE clinical.r20b_kept SET note = '${note}' WHERE id = 1`).then(
          () => 'ran',
          (e: { code?: string }) => `error ${e.code ?? '?'}`,
        );
        const read = await c.query('SELECT v FROM public.r20b_plain').then(
          (r) => r.rows,
          (e: { code?: string }) => `error ${e.code ?? '?'}`,
        );
        expect(shown(read)).not.toContain(SECRET);
        expect(wrote).toBe('error 0A000');
      } finally {
        await c.end();
        await direct.query(`DROP TRIGGER IF EXISTS r20b_chain ON public.r20b_history; TRUNCATE public.r20b_plain${after}`);
      }
    };

    it('R20b-3, with ownrole20: the chained function is owned by Gatehouse\'s upstream role (it could replace it) and is not reviewed: the write is refused (0A000), the secret not readable', () =>
      expectChainRefused('c', `ALTER FUNCTION public.r20b_copy() OWNER TO ${UPSTREAM_ROLE}`, '; ALTER FUNCTION public.r20b_copy() OWNER TO postgres'));

    it('R20b-4: ownrole20 after the snapshot: a CHECK constraint\'s function given to Gatehouse\'s upstream role (ALTER FUNCTION ... OWNER TO) after the writer\'s first write: its next write is refused (0A000)', async () => {
      await direct.query(CHECK_FN);
      await direct.query('ALTER TABLE clinical.r20b_kept ADD CONSTRAINT r20b_checked CHECK (public.r20b_check(id))');
      const c = await t.client(await t.token(`r20b-writer-${engine}`, ['r20b-writers']));
      try {
        const run = (): Promise<string> => c.query("UPDATE clinical.r20b_kept SET note = 'd' WHERE id = 1").then(() => 'ran', (e: { code?: string }) => `error ${e.code ?? '?'}`);
        const first = await run();
        await direct.query(`ALTER FUNCTION public.r20b_check(integer) OWNER TO ${UPSTREAM_ROLE}`);
        const second = await run();
        expect(first).toBe('ran');
        expect(second).toBe('error 0A000');
      } finally {
        await c.end();
        await direct.query('ALTER TABLE clinical.r20b_kept DROP CONSTRAINT IF EXISTS r20b_checked; DROP FUNCTION IF EXISTS public.r20b_check(integer)');
      }
    });

    it('R20b-3: a trigger added on the history table after the review copies the secret where the writer reads it: the write is refused (0A000), the secret not readable', () =>
      expectChainRefused('b', '', ''));

    it('R20b-3, with ownrole20: a chained function reviewed by name but owned by Gatehouse\'s upstream role (it could replace it): the write is refused (0A000)', async () => {
      const c = await t.client(await t.token(`r20b-writer-${engine}`, ['r20b-writers']));
      try {
        await c.query("UPDATE clinical.r20b_kept SET note = 'g' WHERE id = 1");
        await direct.query(`ALTER FUNCTION public.r20b_named() OWNER TO ${UPSTREAM_ROLE}`);
        await direct.query('CREATE TRIGGER r20b_named AFTER INSERT ON public.r20b_history FOR EACH ROW EXECUTE FUNCTION public.r20b_named()');
        const wrote = await c.query("UPDATE clinical.r20b_kept SET note = 'h' WHERE id = 1").then(() => 'ran', (e: { code?: string }) => `error ${e.code ?? '?'}`);
        expect(wrote).toBe('error 0A000');
      } finally {
        await c.end();
        await direct.query('DROP TRIGGER IF EXISTS r20b_named ON public.r20b_history; ALTER FUNCTION public.r20b_named() OWNER TO postgres');
      }
    });

    it('R20b-3: a chain whose triggers are all reviewed still runs (the history table\'s trigger, added after the writer\'s first write, is reviewed and pinned)', async () => {
      const c = await t.client(await t.token(`r20b-writer-${engine}`, ['r20b-writers']));
      try {
        await c.query("UPDATE clinical.r20b_kept SET note = 'e' WHERE id = 1");
        await direct.query('TRUNCATE public.r20b_history');
        await direct.query(SCRUB);
        await c.query("UPDATE clinical.r20b_kept SET note = 'f' WHERE id = 1");
        expect((await direct.query('SELECT secret FROM public.r20b_history')).rows).toEqual([{ secret: 'scrubbed' }]);
      } finally {
        await c.end();
        await direct.query('DROP TRIGGER IF EXISTS r20b_scrub ON public.r20b_history');
      }
    });
  });
}

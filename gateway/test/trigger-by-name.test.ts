// A reviewed trigger function whose body calls a function by name (issue 6, ownrole20b). The body of a
// plpgsql function resolves `bn_note_change(...)` when it runs, so what it calls is not in the catalog and
// not pinned: Gatehouse's upstream role, if it may create in a schema that body searches (or owns the
// function it calls), puts its own code there and the administrator's reviewed trigger runs it with the
// stored secret. Under a mask such a write is refused up front (0A000, enforce/replaceable-functions.ts)
// while that role can define code (pg/by-name-reach.ts); with CREATE revoked and no function owned it runs.
// Both engines, a real Gatehouse connected as a role that is not a superuser (support/upstream-role.ts),
// the attacker being that role itself (as the agent acting through Gatehouse would be).
//
// Run: GATEHOUSE_TEST_DB=gh_own20b npx vitest run --project integration gateway/test/trigger-by-name.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BY_NAME_REACH } from '../src/pg/by-name-reach.ts';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { nonSuperuserUpstream, UPSTREAM_ROLE } from './support/upstream-role.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh } from './support/writer-round.ts';

const SECRET = '731-20-5151';
const SECRET_DIGITS = '731205151';
const UPDATE = "UPDATE clinical.bn_kept SET note = 'z' WHERE id = 1 RETURNING note";

const SETUP = `
CREATE SCHEMA bn_first;
CREATE TABLE public.bn_seen (v text);
CREATE SEQUENCE public.bn_leak;
CREATE TABLE clinical.bn_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.bn_kept VALUES (1, 'n', '${SECRET}');
CREATE FUNCTION public.bn_note_change(text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
-- The administrator's reviewed trigger: its path is pinned (pg_temp last), its callee named without a schema.
CREATE FUNCTION clinical.bn_keep() RETURNS trigger LANGUAGE plpgsql SET search_path = bn_first, public, pg_temp
  AS $$ BEGIN PERFORM bn_note_change(OLD.secret); RETURN NEW; END $$;
CREATE TRIGGER bn_kept BEFORE UPDATE ON clinical.bn_kept FOR EACH ROW EXECUTE FUNCTION clinical.bn_keep();
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.bn_kept, public.bn_seen CASCADE;
DROP SEQUENCE IF EXISTS public.bn_leak;
DROP FUNCTION IF EXISTS clinical.bn_keep(), public.bn_note_change(text);
DROP SCHEMA IF EXISTS bn_first CASCADE;
`;
/** The attacker's function: earlier in the trigger's path than the administrator's, it copies the secret out. */
const SHADOW = `CREATE FUNCTION bn_first.bn_note_change(text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN
  PERFORM pg_catalog.setval('public.bn_leak', pg_catalog.translate($1, '-', '')::bigint);
  INSERT INTO public.bn_seen VALUES ($1);
END $$`;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`a trigger whose body calls a function by name, under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let upstreamUrl: string;

    beforeAll(async () => {
      const url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      const digest = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.bn_keep'])).rows[0] as { digest: string }).digest;
      upstreamUrl = await nonSuperuserUpstream(url);
      // What the attack needs: Gatehouse's role may create in a schema the trigger's body searches.
      await direct.query(`GRANT USAGE, CREATE ON SCHEMA bn_first TO ${UPSTREAM_ROLE}`);
      dir = writerPolicyDir(engine, {
        prefix: 'bn',
        masked: ['clinical.bn_kept'],
        plain: ['public.bn_seen'],
        writable: ['clinical.bn_kept'],
        reviewed: [`clinical.bn_keep@${digest}`],
        adminWrites: 'public.bn_seen',
      });
      // The catalog read often, so that the later tests see the administrator's changes soon.
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl, catalog: { timing: { refreshAfterMs: 200, minBackoffMs: 1_000, maxBackoffMs: 30_000, minRefreshIntervalMs: 100 } } });
    });
    afterAll(() => closeWriterRound({ direct, cleanup: CLEANUP, gateway: t, dir }));

    const writer = async (): Promise<pg.Client> => t.client(await t.token(`bn-writer-${engine}`, ['bn-writers']));
    const outcome = (c: pg.Client, q: string | pg.QueryConfig): Promise<{ code: string | null; rows: unknown[]; message?: string; detail?: string; hint?: string }> =>
      c.query(q).then(
        (r) => ({ code: null, rows: r.rows as unknown[] }),
        (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [], message: e.message, ...(e.detail ? { detail: e.detail } : {}), ...(e.hint ? { hint: e.hint } : {}) }),
      );
    type Outcome = Awaited<ReturnType<typeof outcome>>;
    /** Runs `q` until its outcome is `done` (the snapshot read after an administrator's change), at most ~30 s. */
    const until = async (c: pg.Client, q: string, done: (o: Outcome) => boolean): Promise<Outcome> => {
      let last = await outcome(c, q);
      for (let i = 0; i < 300 && !done(last); i++) {
        await new Promise((r) => setTimeout(r, 100));
        last = await outcome(c, q);
      }
      return last;
    };
    const leaked = async (): Promise<unknown[]> => [
      ...(await direct.query('SELECT last_value::text AS v, is_called FROM public.bn_leak')).rows,
      ...(await direct.query('SELECT v FROM public.bn_seen')).rows,
      ...(await direct.query('SELECT note FROM clinical.bn_kept')).rows,
    ];

    it("refuses the write (0A000) once Gatehouse's role has put its own function in the trigger's way: no secret anywhere, the sequence untouched", async () => {
      const attacker = new pg.Client({ connectionString: upstreamUrl });
      await attacker.connect();
      const w = await writer();
      const notices: unknown[] = [];
      w.on('notice', (n) => notices.push({ ...n, message: n.message }));
      try {
        await attacker.query(SHADOW);
        for (const q of [UPDATE, { text: 'UPDATE clinical.bn_kept SET note = $1 WHERE id = 1 RETURNING note', values: ['z'] }]) {
          const r = await outcome(w, q);
          expect(r.code, JSON.stringify(r)).toBe('0A000');
          expect(r.message).toContain('clinical.bn_keep, whose body calls functions by name');
          expect(r.message).toContain('can define functions a trigger could call by name (it can create functions in schema bn_first)');
          expect(r.hint).toContain('Revoke CREATE on every schema');
          expect(JSON.stringify([r, notices])).not.toContain(SECRET);
        }
        const after = await leaked();
        expect(after).toEqual([{ v: '1', is_called: false }, { note: 'n' }]);
        expect(JSON.stringify([after, (await outcome(w, 'SELECT v FROM public.bn_seen')).rows])).not.toContain(SECRET_DIGITS);
        // The fact is in the policy input, naming why.
        const records = await t.auditUntil((rs) => rs.some((x) => x.type === 'statement' && (x.input?.statement.replaceable_functions ?? []).length > 0));
        expect(records.flatMap((x) => (x.type === 'statement' ? (x.input?.statement.replaceable_functions ?? []) : []))).toContain(
          "clinical.bn_keep (calls functions by name; Gatehouse's role can create functions in schema bn_first)",
        );
      } finally {
        await direct.query('DROP FUNCTION IF EXISTS bn_first.bn_note_change(text)');
        await attacker.end().catch(() => undefined);
        await w.end().catch(() => undefined);
      }
    });

    it('refuses it while the role owns the function the body calls, and runs it once CREATE is revoked and an administrator owns every function', async () => {
      const w = await writer();
      try {
        await direct.query(`REVOKE CREATE ON SCHEMA bn_first FROM ${UPSTREAM_ROLE}; ALTER FUNCTION public.bn_note_change(text) OWNER TO ${UPSTREAM_ROLE}`);
        // The body is still the administrator's here: waiting for the snapshot to see the owner risks nothing.
        const owned = await until(w, UPDATE, (o) => o.code !== '0A000' || !(o.message ?? '').includes('schema bn_first'));
        expect(owned.code).toBe('0A000');
        expect(owned.message).toContain('(it owns public.bn_note_change)');
        await direct.query("UPDATE clinical.bn_kept SET note = 'n' WHERE id = 1");
        await direct.query('ALTER FUNCTION public.bn_note_change(text) OWNER TO postgres');
        const ran = await until(w, UPDATE, (o) => o.code === null);
        expect(ran).toEqual({ code: null, rows: [{ note: 'z' }] });
        expect(await leaked()).toEqual([{ v: '1', is_called: false }, { note: 'z' }]);
        // The fixture's role, as an operator's should be: no CREATE on any schema, no function of its own.
        const role = new pg.Client({ connectionString: upstreamUrl });
        await role.connect();
        try {
          expect((await role.query(BY_NAME_REACH)).rows[0]).toMatchObject({ canDefine: null, byName: [] });
        } finally {
          await role.end();
        }
      } finally {
        await direct.query(`ALTER FUNCTION public.bn_note_change(text) OWNER TO postgres; GRANT CREATE ON SCHEMA bn_first TO ${UPSTREAM_ROLE}`);
        await direct.query("UPDATE clinical.bn_kept SET note = 'n' WHERE id = 1");
        await w.end().catch(() => undefined);
      }
    });

    // What an SQL-standard body (BEGIN ATOMIC) calls is bound when it is defined, and pg_depend lists it: a
    // CHECK calling the administrator's function that calls one Gatehouse's role owns runs the latter.
    it("lists a function Gatehouse's role owns that an SQL-standard body the write runs calls", async () => {
      const w = await writer();
      try {
        await direct.query(`CREATE FUNCTION clinical.bn_inner(text) RETURNS boolean LANGUAGE sql BEGIN ATOMIC SELECT true; END;
          ALTER FUNCTION clinical.bn_inner(text) OWNER TO ${UPSTREAM_ROLE};
          CREATE FUNCTION clinical.bn_check(text) RETURNS boolean LANGUAGE sql BEGIN ATOMIC SELECT clinical.bn_inner($1); END;
          ALTER TABLE clinical.bn_kept ADD CONSTRAINT bn_check CHECK (clinical.bn_check(note))`);
        const r = await until(w, UPDATE, (o) => (o.message ?? '').includes('it runs clinical.bn_inner ('));
        expect(r.code).toBe('0A000');
        expect(r.message).toContain('it runs clinical.bn_inner (');
        expect(r.message).not.toContain('clinical.bn_check');
      } finally {
        await direct.query('ALTER TABLE clinical.bn_kept DROP CONSTRAINT IF EXISTS bn_check; DROP FUNCTION IF EXISTS clinical.bn_check(text), clinical.bn_inner(text)');
        await direct.query("UPDATE clinical.bn_kept SET note = 'n' WHERE id = 1");
        await w.end().catch(() => undefined);
      }
    });
  });
}

// Triggers in the policy input (statement.triggers, statement.trigger_functions; red-team round 10,
// R10-6): a trigger's function reads any table raw and can RAISE what it read, so the example
// policies (policies/*/routines.*, deny-unreviewed-triggers) refuse an agent's write that can fire a
// trigger whose function is not reviewed: on the table written, or on one a foreign-key action of
// it writes. Through a real Gatehouse to the real PostgreSQL, both engines; no SSN reaches the agent.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_triggers npx vitest run --project integration gateway/test/write-triggers.test.ts

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from './support/harness.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';

/** pgbench_ tables: the example policies let the bench group write them, so only the trigger rule can refuse. */
const SETUP = `
CREATE FUNCTION public.gh_trig_quote_ssn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'logged for %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN NEW;
END $$;
CREATE TABLE public.pgbench_gh_trig_log (id integer, note text);
CREATE TRIGGER gh_trig_log BEFORE INSERT OR UPDATE ON public.pgbench_gh_trig_log FOR EACH ROW EXECUTE FUNCTION public.gh_trig_quote_ssn();

CREATE FUNCTION public.gatehouse_example_reviewed_trigger() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  NEW.note := coalesce(NEW.note, 'stamped');
  RETURN NEW;
END $$;
CREATE TABLE public.pgbench_gh_trig_ok (id integer, note text);
CREATE TRIGGER gh_trig_ok BEFORE INSERT ON public.pgbench_gh_trig_ok FOR EACH ROW EXECUTE FUNCTION public.gatehouse_example_reviewed_trigger();

CREATE TABLE public.pgbench_gh_trig_parent (id integer PRIMARY KEY);
INSERT INTO public.pgbench_gh_trig_parent VALUES (1), (2);
CREATE TABLE public.pgbench_gh_trig_child (id integer, parent integer REFERENCES public.pgbench_gh_trig_parent ON DELETE CASCADE);
INSERT INTO public.pgbench_gh_trig_child VALUES (1, 1);
CREATE FUNCTION public.gh_trig_quote_ssn_old() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  RAISE NOTICE 'removed for %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN OLD;
END $$;
CREATE TRIGGER gh_trig_child AFTER DELETE ON public.pgbench_gh_trig_child FOR EACH ROW EXECUTE FUNCTION public.gh_trig_quote_ssn_old();

CREATE TABLE public.pgbench_gh_trig_inbox (id integer, note text);
CREATE RULE gh_trig_inbox AS ON INSERT TO public.pgbench_gh_trig_inbox DO INSTEAD INSERT INTO public.pgbench_gh_trig_log VALUES (NEW.id, NEW.note);

CREATE TABLE public.pgbench_gh_trig_off (id integer);
CREATE TRIGGER gh_trig_off BEFORE INSERT ON public.pgbench_gh_trig_off FOR EACH ROW EXECUTE FUNCTION public.gh_trig_quote_ssn();
ALTER TABLE public.pgbench_gh_trig_off DISABLE TRIGGER gh_trig_off;
`;

const CLEANUP = `
DROP TABLE IF EXISTS public.pgbench_gh_trig_inbox, public.pgbench_gh_trig_log, public.pgbench_gh_trig_ok, public.pgbench_gh_trig_child, public.pgbench_gh_trig_parent, public.pgbench_gh_trig_off CASCADE;
DROP FUNCTION IF EXISTS public.gh_trig_quote_ssn(), public.gh_trig_quote_ssn_old(), public.gatehouse_example_reviewed_trigger();
`;

interface Outcome {
  code: string | null;
  rowCount: number | null;
  error: Record<string, unknown> | null;
  notices: Array<Record<string, unknown>>;
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`triggers in the policy input (${engine})`, () => {
    // Gatehouse's own role is not a superuser: else it could replace every trigger function, and masked writes firing one are refused (issue 6).
    const rt = useRedTeamFixture({ engine, cleanup: CLEANUP, setup: SETUP, nonSuperuserUpstream: true, agent: { subject: `trigger-agent-${engine}`, groups: ['agents', 'bench'] } });
    let t: TestGateway, agent: pg.Client, ssn: string;
    let notices: Array<Record<string, unknown>> = [];
    const seen: Outcome[] = [];

    /** Runs `sql` in a block that is rolled back, with the notices it got. */
    const attempt = async (sql: string): Promise<Outcome> => {
      await agent.query('BEGIN');
      notices = [];
      let o: Outcome;
      try {
        const r = await agent.query(sql);
        o = { code: null, rowCount: r.rowCount, error: null, notices };
      } catch (e) {
        const err = e as pg.DatabaseError;
        o = { code: err.code ?? 'no-sqlstate', rowCount: null, error: { ...err, message: err.message }, notices };
      }
      await new Promise((r) => setImmediate(r));
      o.notices = [...notices];
      await agent.query('ROLLBACK');
      seen.push(o);
      return o;
    };

    beforeAll(() => {
      ({ gateway: t, agent, ssn } = rt);
      agent.on('notice', (n) => notices.push({ ...n, message: n.message }));
    });

    it("an agent's write that fires a trigger with an unreviewed function is refused, and nothing it would raise arrives", async () => {
      const o = await attempt("INSERT INTO public.pgbench_gh_trig_log VALUES (1, 'x')");
      expect(o.code).toBe('42501');
      expect(String(o.error?.['message'])).toContain('trigger');
      expect(o.notices).toEqual([]);
      expect(JSON.stringify(o)).not.toContain(ssn);
    });

    it('the audit record of the refused write lists the trigger, its function, language, SECURITY DEFINER flag and definition digest', async () => {
      const records = await t.auditUntil((r) => r.some((x) => x.type === 'statement' && JSON.stringify(x).includes('pgbench_gh_trig_log')));
      const record = records.find((x) => x.type === 'statement' && JSON.stringify(x).includes('pgbench_gh_trig_log')) as unknown as {
        decision: string;
        policies: string[];
        input: { statement: { triggers: unknown[]; trigger_functions: string[] } };
      };
      expect(record.decision).toBe('deny');
      expect(record.policies).toContain('deny-unreviewed-triggers');
      expect(record.input.statement.trigger_functions).toEqual(['public.gh_trig_quote_ssn']);
      expect(record.input.statement.triggers).toEqual([
        {
          name: 'gh_trig_log',
          table: 'public.pgbench_gh_trig_log',
          function: 'public.gh_trig_quote_ssn',
          language: 'plpgsql',
          security_definer: false,
          timing: 'before',
          level: 'row',
          events: ['insert', 'update'],
          // The definition the decision was made on (issue 6): CREATE OR REPLACE FUNCTION changes it.
          function_digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        },
      ]);
    });

    it('a write whose foreign-key action fires such a trigger on another table is refused too', async () => {
      const o = await attempt('DELETE FROM public.pgbench_gh_trig_parent WHERE id = 1');
      expect(o.code).toBe('42501');
      expect(o.notices).toEqual([]);
      expect(JSON.stringify(o)).not.toContain(ssn);
    });

    it('a write a rule redirects to a table with such a trigger is refused too', async () => {
      const o = await attempt("INSERT INTO public.pgbench_gh_trig_inbox VALUES (1, 'x')");
      expect(o.code).toBe('42501');
      expect(o.notices).toEqual([]);
      expect(JSON.stringify(o)).not.toContain(ssn);
    });

    it('a write that fires only a reviewed trigger function runs', async () => {
      const o = await attempt('INSERT INTO public.pgbench_gh_trig_ok (id) VALUES (1)');
      expect(o.code, JSON.stringify(o.error)).toBeNull();
      expect(o.rowCount).toBe(1);
    });

    it('a disabled trigger is not listed, and a write to a table without foreign-key actions onto triggers runs', async () => {
      expect((await attempt('INSERT INTO public.pgbench_gh_trig_off VALUES (1)')).code).toBeNull();
      expect((await attempt('DELETE FROM public.pgbench_gh_trig_parent WHERE id = 2')).code).toBe('42501');
    });

    it('no SSN in anything the agent received', () => {
      expect(seen.length).toBeGreaterThanOrEqual(6);
      expect(JSON.stringify(seen)).not.toContain(ssn);
    });
  });
}

// A trigger function reviewed by a policy is bound to the definition the snapshot read (issue 6, after
// red-team round 17a): `CREATE OR REPLACE FUNCTION` directly on the server after the review changes what
// runs. The relation fingerprint (pg/relation-structure.ts) holds each trigger's function row, so the
// write of an identity under a mask re-reads the snapshot and is decided on the current definition; the
// policy input (and so the audit record) carries it as statement.triggers[].function_digest. A review
// pinned to a definition ("schema.name@sha256:...") vouches for that one only: a changed body is refused
// (0A000) until reviewed again. A review by name trusts any body (documented), but the audit record says
// which one ran. Both engines, a real Gatehouse and PostgreSQL.
//
// Run: GATEHOUSE_TEST_DB=gh_review_definition npx vitest run --project integration gateway/test/trigger-review-definition.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh } from './support/writer-round.ts';

const SECRET = 'RV6-Pinned-Secret-3318';

const SETUP = `
CREATE TABLE clinical.rv6_pinned (id integer PRIMARY KEY, note text, secret text);
CREATE TABLE clinical.rv6_named (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.rv6_pinned VALUES (1, 'n', '${SECRET}');
INSERT INTO clinical.rv6_named VALUES (1, 'n', '${SECRET}');
CREATE FUNCTION clinical.rv6_stamp_pinned() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$ BEGIN NEW.note := coalesce(NEW.note, 'stamped'); RETURN NEW; END $$;
CREATE FUNCTION clinical.rv6_stamp_named() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$ BEGIN NEW.note := coalesce(NEW.note, 'stamped'); RETURN NEW; END $$;
CREATE TRIGGER rv6_pinned BEFORE UPDATE ON clinical.rv6_pinned FOR EACH ROW EXECUTE FUNCTION clinical.rv6_stamp_pinned();
CREATE TRIGGER rv6_named BEFORE UPDATE ON clinical.rv6_named FOR EACH ROW EXECUTE FUNCTION clinical.rv6_stamp_named();
`;
/** What an attacker with DDL on the server swaps in after the review: the body quotes the masked value. */
const REPLACED = (f: string): string => `CREATE OR REPLACE FUNCTION clinical.${f}() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$ BEGIN RAISE NOTICE 'row %', NEW.secret; RETURN NEW; END $$`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.rv6_pinned, clinical.rv6_named CASCADE;
DROP FUNCTION IF EXISTS clinical.rv6_stamp_pinned(), clinical.rv6_stamp_named();
`;

const MASKED = ['clinical.rv6_pinned', 'clinical.rv6_named'];

for (const engine of ['rego', 'cedar'] as const) {
  describe(`a reviewed trigger function is bound to its definition (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let writer: pg.Client;
    let pinned: string;
    const notices: string[] = [];

    /** `sql` in a rolled-back block: its error code (null when it ran) and message. */
    const inBlock = async (sql: string): Promise<{ code: string | null; message: string; detail: string }> => {
      await writer.query('BEGIN');
      try {
        await writer.query(sql);
        return { code: null, message: '', detail: '' };
      } catch (e) {
        const err = e as pg.DatabaseError;
        return { code: err.code ?? 'none', message: err.message, detail: err.detail ?? '' };
      } finally {
        await writer.query('ROLLBACK');
      }
    };
    const digestsIn = (records: AuditRecord[], table: string): string[] =>
      records.flatMap((r) => (r.type === 'statement' && r.input !== null ? (r.input.statement.triggers ?? []) : [])).filter((x) => x.table === table).map((x) => x.function_digest ?? 'none');

    beforeAll(async () => {
      const url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      pinned = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.rv6_stamp_pinned'])).rows[0] as { digest: string }).digest;
      dir = writerPolicyDir(engine, {
        prefix: 'rv6',
        masked: MASKED,
        plain: ['clinical.rv6_none'], // Cedar does not type an empty set literal
        writable: MASKED,
        reviewed: [`clinical.rv6_stamp_pinned@${pinned}`, 'clinical.rv6_stamp_named'],
        adminWrites: 'clinical.rv6_named',
      });
      // No background refresh and no lock poll: the change is met only by the check before the write.
      // Gatehouse's own role is not a superuser and cannot replace the fixtures' functions (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: await nonSuperuserUpstream(url), catalog: { lockPollMs: 0, timing: { refreshAfterMs: 600_000, minBackoffMs: 1_000, maxBackoffMs: 30_000, minRefreshIntervalMs: 600_000 } } });
      writer = await t.client(await t.token(`rv6-writer-${engine}`, ['rv6-writers']));
      writer.on('notice', (n) => notices.push(JSON.stringify({ ...n, message: n.message })));
    });
    afterAll(() => closeWriterRound({ writer, direct, cleanup: CLEANUP, gateway: t, dir }));

    it('the premise: the writer reads secret masked, and writes firing the reviewed functions run', async () => {
      expect((await writer.query('SELECT secret FROM clinical.rv6_pinned')).rows).toEqual([{ secret: '***' }]);
      expect(await inBlock("UPDATE clinical.rv6_pinned SET note = 'x' WHERE id = 1")).toMatchObject({ code: null });
      expect(await inBlock("UPDATE clinical.rv6_named SET note = 'x' WHERE id = 1")).toMatchObject({ code: null });
      expect(digestsIn(t.audit(), 'clinical.rv6_pinned')).toContain(pinned);
    });

    it('a pinned review does not vouch for a body replaced on the server after it: refused, nothing raised', async () => {
      await direct.query(REPLACED('rv6_stamp_pinned'));
      notices.length = 0;
      const r = await inBlock("UPDATE clinical.rv6_pinned SET note = 'y' WHERE id = 1");
      await new Promise((resolve) => setImmediate(resolve));
      expect(notices.join('\n')).not.toContain(SECRET);
      expect(r.code, r.message).toBe('0A000');
      expect(r.message).toContain('clinical.rv6_stamp_pinned');
      expect(r.message).toContain('another definition');
      expect(r.detail).toContain(pinned);
    });

    it('a review by name trusts the new body, but the write is decided on it and the audit record names it', async () => {
      const before = new Set(digestsIn(t.audit(), 'clinical.rv6_named'));
      expect(before.size).toBe(1);
      await direct.query(REPLACED('rv6_stamp_named'));
      const now = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.rv6_stamp_named'])).rows[0] as { digest: string }).digest;
      expect(before.has(now)).toBe(false);
      // Runs (trusted by name: the documented limit; the notice is the body's own doing), and its record says which definition ran.
      const r = await inBlock("UPDATE clinical.rv6_named SET note = 'z' WHERE id = 1");
      expect(r.code, r.message).toBeNull();
      const records = await t.auditUntil((all) => digestsIn(all, 'clinical.rv6_named').includes(now));
      expect(digestsIn(records, 'clinical.rv6_named')).toContain(now);
    });
  });
}

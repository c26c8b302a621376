// Gatehouse parses SQL as UTF-8 with standard_conforming_strings on; PostgreSQL parses with the
// session's settings. A session may therefore never get standard_conforming_strings off or a
// client-only encoding (SJIS, BIG5, GBK, ...): not from its startup parameters, not from a
// statement (22023 before anything is forwarded), and not from the database itself (a role default
// is overridden at connection; a function that changes it ends the session with FATAL 22023).

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { encodeStartupMessage } from '../src/wire/startup.ts';
import { PG_ADMIN_URL, sqlstateOf, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';
import { psqlVia } from './support/run-tool.ts';
import { serialize, WireClient } from './support/wire-client.ts';

/**
 * Logs in with extra startup parameters (node-postgres sends no client_encoding) and returns the
 * error that ended the login, or the parameters the session reported.
 */
async function login(port: number, token: string, params: Record<string, string>): Promise<{ error: { code: string; severity: string } | null; reported: Record<string, string> }> {
  const c = await WireClient.open(port);
  // Gatehouse's own encoder: pg-protocol's appends client_encoding=UTF8 to whatever it is given.
  c.send(encodeStartupMessage({ user: 'agent', database: 'postgres', ...params }));
  let error: { code: string; severity: string } | null = null;
  const reported: Record<string, string> = {};
  for await (const m of c.untilClosed()) {
    if (m.name === 'authenticationCleartextPassword') c.send(serialize.password(token));
    if (m.name === 'parameterStatus') reported[m.parameterName ?? ''] = m.parameterValue ?? '';
    if (m.name === 'error') error = { code: m.code ?? '', severity: m.severity ?? '' };
    if (m.name === 'readyForQuery') c.close();
  }
  return { error, reported };
}

/** The FATAL (or ERROR) a statement got, with its severity. */
async function failure(c: pg.Client, sql: string, values?: unknown[]): Promise<{ code: string | null; severity: string | null }> {
  try {
    await c.query(sql, values);
    return { code: null, severity: null };
  } catch (e) {
    const err = e as { code?: string; severity?: string };
    return { code: err.code ?? 'no-sqlstate', severity: err.severity ?? null };
  }
}

describe('parser differentials: standard_conforming_strings and client_encoding', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let agentToken: string;
  let ssns: string[];
  const victim = `public.parser_diff_victim`;
  const scsOff = 'public.gatehouse_it_scs_off';
  const encodingSjis = 'public.gatehouse_it_encoding_sjis';

  const leaks = (x: unknown): boolean => {
    const s = typeof x === 'string' ? x : JSON.stringify(x);
    return ssns.some((v) => s.includes(v));
  };
  const agent = (extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> => t.client(agentToken, extra);

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    agentToken = await t.token('agent-parser', ['agents']);
    ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => r.ssn as string);
    await direct.query(`DROP TABLE IF EXISTS ${victim}; CREATE TABLE ${victim} (id int)`);
    // Code Gatehouse cannot see into: functions that change the settings for the rest of the session.
    await direct.query(`CREATE OR REPLACE FUNCTION ${scsOff}() RETURNS text LANGUAGE sql AS $$ SELECT set_config('standard_conforming_strings', 'off', false) $$`);
    await direct.query(`CREATE OR REPLACE FUNCTION ${encodingSjis}() RETURNS text LANGUAGE sql AS $$ SELECT set_config('client_encoding', 'SJIS', false) $$`);
  });
  afterAll(async () => {
    await direct?.query(`DROP TABLE IF EXISTS ${victim}; DROP FUNCTION IF EXISTS ${scsOff}(); DROP FUNCTION IF EXISTS ${encodingSjis}()`).catch(() => undefined);
    await direct?.end();
    await t?.close();
  });

  describe('statements (both protocols)', () => {
    it('refuses SET, SET LOCAL, SET NAMES and set_config() of unsafe values with 22023, and the session goes on', async () => {
      const c = await agent();
      for (const sql of [
        'SET standard_conforming_strings = off',
        'SET standard_conforming_strings TO 0',
        "SET client_encoding = 'GBK'",
        "SET NAMES 'Shift_JIS'",
        "SELECT set_config('standard_conforming_strings', 'off', false)",
        "SELECT pg_catalog.set_config('client_encoding', 'win950', false)",
        `SELECT ${TEST_DB}.pg_catalog.set_config('client_encoding', 'uhc', false)`,
        "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
      ]) {
        expect(await failure(c, sql), sql).toEqual({ code: '22023', severity: 'ERROR' });
      }
      await c.query('BEGIN');
      expect(await sqlstateOf(c, 'SET LOCAL standard_conforming_strings = off')).toBe('22023');
      expect(await sqlstateOf(c, 'SELECT 1')).toBe('25P02'); // the refusal aborted the block, as an error would
      await c.query('ROLLBACK');
      // Extended protocol: decided on the values bound at Execute.
      expect(await sqlstateOf(c, 'SELECT set_config($1, $2, false)', ['standard_conforming_strings', 'off'])).toBe('22023');
      expect(await sqlstateOf(c, 'SELECT set_config($1, $2, false)', ['client_encoding', 'GB18030'])).toBe('22023');
      expect(await sqlstateOf(c, "SELECT set_config('client_encoding', $1, false)", ['johab'])).toBe('22023');
      expect((await c.query('SHOW standard_conforming_strings')).rows).toEqual([{ standard_conforming_strings: 'on' }]);
      expect((await c.query('SHOW client_encoding')).rows).toEqual([{ client_encoding: 'UTF8' }]);
    });

    it('refuses ALTER ... SET and function SET clauses of unsafe values with 22023, before the policy (42501) is asked', async () => {
      const c = await agent();
      for (const sql of [
        'ALTER ROLE CURRENT_USER SET standard_conforming_strings = off',
        `ALTER DATABASE ${TEST_DB} SET client_encoding = 'SJIS'`,
        'ALTER SYSTEM SET standard_conforming_strings = off',
        `CREATE FUNCTION public.gatehouse_it_never() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'select 1'`,
      ]) {
        expect(await sqlstateOf(c, sql), sql).toBe('22023');
      }
      const settings = await direct.query(`SELECT count(*)::int AS n FROM pg_db_role_setting s WHERE array_to_string(s.setconfig, ',') ~* 'standard_conforming_strings|client_encoding'`);
      expect(settings.rows[0].n).toBe(0);
    });

    it('B4 after the refused SET: the payloads are plain string literals and leak nothing', async () => {
      const c = await agent();
      expect(await sqlstateOf(c, 'SET standard_conforming_strings = off')).toBe('22023');
      const r = await c.query("SELECT 'a\\' || ' UNION ALL SELECT ssn FROM clinical.patients --' AS s");
      expect(r.rows).toEqual([{ s: "a\\ UNION ALL SELECT ssn FROM clinical.patients --" }]);
      expect(leaks(r.rows)).toBe(false);
      await c.query(`SELECT 'a\\' || '; DROP TABLE ${victim}; --'`);
      expect((await direct.query('SELECT to_regclass($1) IS NOT NULL AS e', [victim])).rows[0].e).toBe(true);
    });

    it('keeps ordinary SET statements working: safe encodings, RESET, DISCARD ALL, other parameters', async () => {
      const c = await agent();
      for (const sql of [
        'SET standard_conforming_strings = on',
        "SET client_encoding = 'LATIN1'",
        "SET NAMES 'UTF8'",
        "SELECT set_config('client_encoding', 'utf-8', false)",
        "SET application_name = 'parser-diff'",
        "SET TIME ZONE 'UTC'",
        'SET search_path = clinical, public',
        'RESET client_encoding',
        'RESET ALL',
        'DISCARD ALL',
      ]) {
        expect(await sqlstateOf(c, sql), sql).toBeNull();
      }
      expect(await sqlstateOf(c, 'SELECT set_config($1, $2, false)', ['search_path', 'clinical'])).toBeNull();
      expect((await c.query('SELECT current_setting($1) AS v', ['standard_conforming_strings'])).rows).toEqual([{ v: 'on' }]);
    });
  });

  describe('startup parameters', () => {
    it('refuses a client-only client_encoding with FATAL 22023, and lets UTF8 and LATIN1 in', async () => {
      const refused: Record<string, string>[] = [
        { client_encoding: 'SJIS' },
        { client_encoding: 'gbk' },
        { client_encoding: 'BIG5' },
        { client_encoding: 'not-an-encoding' },
        { standard_conforming_strings: 'off' },
        { CLIENT_ENCODING: 'uhc' },
      ];
      for (const params of refused) {
        const r = await login(t.port, agentToken, params);
        expect(r.error, JSON.stringify(params)).toEqual({ code: '22023', severity: 'FATAL' });
        expect(r.reported, JSON.stringify(params)).toEqual({});
      }
      for (const client_encoding of ['UTF8', 'utf-8', 'LATIN1', 'EUC_JP']) {
        const r = await login(t.port, agentToken, { client_encoding });
        expect(r.error, client_encoding).toBeNull();
        expect([r.reported['client_encoding'], r.reported['standard_conforming_strings']], client_encoding).toEqual([client_encoding === 'utf-8' ? 'UTF8' : client_encoding, 'on']);
      }
      const refusals = await t.auditUntil((rs) => rs.some((r) => r.type === 'session' && r.reason?.includes('client_encoding') === true));
      expect(refusals.some((r) => r.type === 'session' && r.event === 'closed' && r.reason?.includes('"SJIS"') === true)).toBe(true);
    });

    it('never passes options through: -c standard_conforming_strings=off from a client has no effect', async () => {
      const c = await agent({ options: '-c standard_conforming_strings=off -c client_encoding=SJIS' });
      expect((await c.query('SELECT current_setting($1) AS s, current_setting($2) AS e', ['standard_conforming_strings', 'client_encoding'])).rows).toEqual([
        { s: 'on', e: 'UTF8' },
      ]);
    });

    it('psql: PGCLIENTENCODING=GBK is refused, LATIN1 round-trips its characters', async () => {
      const gbk = await psqlVia(t.port, agentToken, ['-At', '-c', 'SELECT 1'], { env: { PGCLIENTENCODING: 'GBK' } });
      expect(gbk.code).toBe(2);
      expect(gbk.stderr).toContain('client_encoding');
      const latin1 = await psqlVia(t.port, agentToken, ['-At', '-f', '-'], {
        env: { PGCLIENTENCODING: 'LATIN1' },
        stdin: Buffer.from("SELECT 'caf\xe9' AS w, length('caf\xe9') AS n;\n", 'latin1'),
      });
      expect(latin1.stderr).toBe('');
      expect(latin1.stdout).toEqual(Buffer.from('caf\xe9|4\n', 'latin1'));
    });
  });

  describe('B5 with psql and a GBK script', () => {
    const script = Buffer.concat([
      Buffer.from("\\set VERBOSITY verbose\nSET client_encoding = 'GBK';\nSELECT E'"),
      Buffer.from([0xbf, 0x5c]),
      Buffer.from("' UNION ALL SELECT ssn FROM clinical.patients -- ';\n"),
    ]);

    it('stops at the refused SET (22023) with ON_ERROR_STOP', async () => {
      const r = await psqlVia(t.port, agentToken, ['-At', '-f', '-'], { stdin: script });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('22023');
      expect(leaks(r.stdout.toString('latin1'))).toBe(false);
    });

    it('without ON_ERROR_STOP the next statement is still UTF-8 to the database, which rejects its bytes', async () => {
      const r = await psqlVia(t.port, agentToken, ['-v', 'ON_ERROR_STOP=0', '-At', '-f', '-'], { stdin: script });
      expect(r.stderr).toContain('22023');
      expect(r.stderr).toContain('22021'); // invalid byte sequence for encoding "UTF8"
      expect(leaks(r.stdout.toString('latin1'))).toBe(false);
    });
  });

  describe('settings changed by the database', () => {
    // User-defined functions are for break-glass only in the example policies (deny-user-functions).
    const breakglass = async (): Promise<pg.Client> => t.client(await t.token('agent-parser', ['agents', 'breakglass']));

    it('ends the session with FATAL 22023 when a function turns standard_conforming_strings off', async () => {
      const c = await breakglass();
      const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
      expect(await failure(c, `SELECT ${scsOff}()`)).toEqual({ code: '22023', severity: 'FATAL' });
      await ended;
      const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'session' && r.event === 'protocol_error' && r.reason?.includes('standard_conforming_strings') === true));
      const ending = records.find((r): r is Extract<AuditRecord, { type: 'session' }> => r.type === 'session' && r.event === 'protocol_error' && r.reason?.includes('standard_conforming_strings') === true);
      expect(ending?.identity?.subject).toBe('agent-parser');
    });

    it('ends the session with FATAL 22023 when a function switches client_encoding to SJIS', async () => {
      const c = await breakglass();
      expect(await failure(c, `SELECT ${encodingSjis}()`)).toEqual({ code: '22023', severity: 'FATAL' });
    });

    describe('role and database defaults', () => {
      const role = `${TEST_DB.toLowerCase()}_parser_role_${randomUUID().slice(0, 8)}`;
      let roleGateway: TestGateway;

      beforeAll(async () => {
        await direct.query(`CREATE ROLE ${role} LOGIN`);
        await direct.query(`ALTER ROLE ${role} SET standard_conforming_strings = off`);
        await direct.query(`ALTER ROLE ${role} SET client_encoding = 'SJIS'`);
        const url = new URL(PG_ADMIN_URL);
        url.username = role;
        url.pathname = `/${TEST_DB}`;
        roleGateway = await startTestGateway({ upstreamUrl: url.toString() });
      });
      afterAll(async () => {
        await roleGateway?.close();
        await direct.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      });

      it('are overridden at connection: Gatehouse asks for UTF8 and standard_conforming_strings on, and RESET ALL keeps them', async () => {
        const c = await roleGateway.client(await roleGateway.token('agent-role', ['agents']));
        const show = 'SELECT current_user AS u, current_setting($1) AS s, current_setting($2) AS e';
        const params = ['standard_conforming_strings', 'client_encoding'];
        expect((await c.query(show, params)).rows).toEqual([{ u: role, s: 'on', e: 'UTF8' }]);
        await c.query('RESET ALL');
        await c.query('DISCARD ALL');
        expect((await c.query(show, params)).rows).toEqual([{ u: role, s: 'on', e: 'UTF8' }]);
        // Without Gatehouse, the role's defaults apply: the database really would parse differently.
        const url = new URL(PG_ADMIN_URL);
        url.username = role;
        url.pathname = `/${TEST_DB}`;
        const plain = new pg.Client({ connectionString: url.toString() });
        await plain.connect();
        try {
          expect((await plain.query('SELECT current_setting($1) AS s', ['standard_conforming_strings'])).rows).toEqual([{ s: 'off' }]);
        } finally {
          await plain.end();
        }
      });
    });
  });
});

// The example policies' answers to three review findings, end to end through Gatehouse to the real
// PostgreSQL with node-postgres, for both engines: pg_notify() is denied like NOTIFY (deny-notify),
// agents change only allow-listed settings (deny-agent-settings), and dates of birth are masked.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AuditRecord } from '../src/audit/types.ts';
import { sqlstateOf, startTestGateway, type TestGateway, recorded } from './support/harness.ts';

for (const engine of ['rego', 'cedar'] as const) {
  describe(`${engine} engine`, () => {
    let t: TestGateway;
    let direct: pg.Client;
    let agent: pg.Client;

    beforeAll(async () => {
      t = await startTestGateway({ engine });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      agent = await t.client(await t.token('agent-gaps', ['agents']));
    });
    afterAll(async () => {
      await direct?.end();
      await t?.close();
    });

    /** The audited decisions on `sql`, once at least one is written. */
    async function decisionsOn(sql: string): Promise<Array<Extract<AuditRecord, { type: 'statement' }>>> {
      const isOurs = (r: AuditRecord): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === recorded(sql);
      return (await t.auditUntil((rs) => rs.some(isOurs))).filter(isOurs);
    }

    /** The policies of every audited decision on `sql`, all of which must be denials. */
    async function deniedBy(sql: string): Promise<string[]> {
      const records = await decisionsOn(sql);
      expect(records.map((r) => r.decision)).toEqual(records.map(() => 'deny'));
      return [...new Set(records.flatMap((r) => r.policies))];
    }

    it('pg_notify() is denied like NOTIFY, and no notification reaches a listener', async () => {
      const channel = `gaps_${engine}`;
      await direct.query(`LISTEN ${channel}`);
      const received: string[] = [];
      direct.on('notification', (n) => {
        if (n.channel === channel) received.push(n.payload ?? '');
      });
      for (const sql of [`SELECT pg_notify('${channel}', 'from the agent')`, `SELECT 1 FROM pg_catalog.pg_notify('${channel}', 'qualified')`]) {
        expect(await sqlstateOf(agent, sql), sql).toBe('42501');
        expect(await deniedBy(sql), sql).toEqual(['deny-notify']);
      }
      expect(await sqlstateOf(agent, `NOTIFY ${channel}, 'statement'`)).toBe('42501');
      // A notification sent afterwards arrives alone: nothing from the agent came before it.
      const marker = new Promise<void>((resolve) => direct.on('notification', (n) => n.payload === 'marker' && resolve()));
      await direct.query(`NOTIFY ${channel}, 'marker'`);
      await marker;
      expect(received).toEqual(['marker']);
      await direct.query(`UNLISTEN ${channel}`);
    });

    it('an agent may not change settings off its allow-list, however written, and they stay as they were', async () => {
      const before = (await agent.query("SELECT current_setting('log_statement') AS l, current_setting('session_replication_role') AS r")).rows[0];
      const refused: Array<[string, string]> = [
        ["SET log_statement = 'none'", 'log_statement'],
        ['SET session_replication_role = replica', 'session_replication_role'],
        ["SELECT set_config('session_replication_role', 'replica', false)", 'session_replication_role'],
        ["SET LOCAL work_mem = '64GB'", 'work_mem'],
      ];
      for (const [sql, setting] of refused) {
        expect(await sqlstateOf(agent, sql), sql).toBe('42501');
        expect(await deniedBy(sql), sql).toEqual(['deny-agent-settings']);
        for (const r of await decisionsOn(sql)) expect(r.reason, sql).toContain(setting);
      }
      const after = (await agent.query("SELECT current_setting('log_statement') AS l, current_setting('session_replication_role') AS r")).rows[0];
      expect(after).toEqual(before);
    });

    it('an agent may change allow-listed settings, including gatehouse.reason, the way drivers do', async () => {
      await agent.query("SET application_name = 'gaps report'");
      await agent.query("SET statement_timeout = '30s'");
      await agent.query("SET TIME ZONE 'UTC'");
      await agent.query('SET extra_float_digits = 3');
      await agent.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await agent.query("SET gatehouse.reason = 'ticket 4711'");
      const r = await agent.query(
        "SELECT current_setting('application_name') AS a, current_setting('statement_timeout') AS s, current_setting('TimeZone') AS z, current_setting('gatehouse.reason') AS g",
      );
      expect(r.rows).toEqual([{ a: 'gaps report', s: '30s', z: 'UTC', g: 'ticket 4711' }]);
      await agent.query('RESET ALL');
    });

    it('an agent never sees a patient date of birth', async () => {
      const real = (await direct.query("SELECT id, to_char(date_of_birth, 'YYYY-MM-DD') AS dob FROM clinical.patients ORDER BY id")).rows as Array<{ id: number; dob: string }>;
      // The column itself (computing on a masked column may be refused), as the text PostgreSQL sent.
      const asText = { getTypeParser: () => (v: string) => v };
      const seen = (
        await agent.query({ text: 'SELECT id, date_of_birth AS dob FROM clinical.patients ORDER BY id', types: asText })
      ).rows.map((r: { id: string; dob: string | null }) => ({ id: Number(r.id), dob: r.dob }));
      expect(seen.map((r) => r.id)).toEqual(real.map((r) => r.id));
      // fake_date: withheld (NULL) where it cannot be computed, else a date in the same year; a fake
      // may fall on the real day by chance, but not for more than a few of the seeded patients.
      seen.forEach((r, i) => {
        if (r.dob !== null) expect(r.dob.slice(0, 4)).toBe(real[i]!.dob.slice(0, 4));
      });
      const same = seen.filter((r, i) => r.dob === real[i]!.dob).length;
      expect(same).toBeLessThan(Math.max(3, real.length / 20));
    });
  });
}

// Group commit on a real disk whose flushes fail (test/support/failing-disk.ts), through a gateway
// with concurrent sessions: the flush fails while later statements accumulate behind it; none of
// them reaches PostgreSQL, every client gets the audit SQLSTATE, and service resumes by itself, with
// the records the failed flushes did not store written again (no hole on disk: issue 7).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountFailingDisk } from './support/failing-disk.ts';
import { ensureClinicDatabase, sqlstateOf, startTestGateway } from './support/harness.ts';

/** Whether a failing disk can be made here (each case makes its own: see below). */
const disk = mountFailingDisk();
const TABLE = 'public.pgbench_audit_failing_disk';
const SESSIONS = 8;
let direct: pg.Client;

beforeAll(async () => {
  if (disk === null) return;
  direct = new pg.Client({ connectionString: await ensureClinicDatabase() });
  await direct.connect();
  await direct.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await direct.query(`CREATE TABLE ${TABLE} (v text)`);
}, 120_000);

afterAll(async () => {
  await direct?.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
  await direct?.end();
  disk?.remove();
});

const rows = async (like: string): Promise<number> => (await direct.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE v LIKE $1`, [like])).rows[0].n as number;

describe.runIf(disk !== null)('audit flushes failing under concurrent sessions', () => {
  // Preallocated (the records of a turn written at its end) in chunks small enough that new records
  // soon need blocks the disk never stored, plain appends, and a write-ahead ring (made while the disk
  // worked, so its flushes keep succeeding in place) small enough that the log's own flush, made before
  // the ring comes round, soon fails: statements whose records the ring confirmed ran, later ones are refused.
  it.each([
    [4096, 0],
    [0, 0],
    [0, 65536],
  ])('runs none of the statements whose records were not flushed, refuses with the audit SQLSTATE, and recovers by itself (preallocate %i, ring %i)', async (preallocate, ring) => {
    const operatorErrors: string[] = [];
    const tag = `${preallocate}-${ring}`;
    // A disk of its own: once one has failed and healed, blocks freed on it may take writes whose flush
    // succeeds though the disk never stores them (append-file.failing-disk.test.ts), which no writer detects.
    const own = mountFailingDisk();
    if (own === null) throw new Error('a second failing disk could not be made');
    const auditFile = join(own.dir, `audit-${tag}.ndjson`);
    let t: Awaited<ReturnType<typeof startTestGateway>>;
    try {
      t = await startTestGateway({
        auditFile,
      audit: { fsync: true, preallocate_bytes: preallocate, ring_bytes: ring },
        onError: (m) => operatorErrors.push(m),
      });
    } catch (e) {
      own.remove();
      throw e;
    }
    let closed = false;
    try {
      const token = await t.token('failing-disk@example.com', ['bench']);
      const clients = await Promise.all(Array.from({ length: SESSIONS }, () => t.client(token)));
      // The first session waits at most 5 s for the gateway's first catalog read; on a loaded machine
      // (this file's first gateway, cold) it can take longer, and the statement is then refused as not
      // yet decidable (fail closed, 42501; seen once in 16 runs of this file here at load 15-25): try again.
      for (const [i, c] of clients.entries()) {
        for (let attempt = 1; ; attempt++) {
          const failure = await c.query(`INSERT INTO ${TABLE} VALUES ('before-${tag}-${i}')`).then(() => null, (e: Error) => e);
          if (failure === null) break;
          if (attempt >= 100 || !/has not read the database's catalog yet/.test(failure.message)) throw failure;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(await rows(`before-${tag}-%`)).toBe(SESSIONS);

      own.fail();
      // Records still fit in the log's last block, which the disk has stored already: those flushes
      // succeed and their statements run. Waves of concurrent statements, staggered over a few
      // milliseconds (a flush in flight while later records accumulate for the next), until flushes fail.
      const refused = new Set<string>();
      // Each wave's outcomes and the operator log, in every assertion's message: a failure on a CI run
      // says which wave refused what (the ring case's order of refusals depends on timing).
      const trail: string[] = [];
      const said = (): string => `${trail.join('\n')}\noperator log: ${JSON.stringify(operatorErrors)}`;
      for (let wave = 0; wave < 30 && !refused.has('58030'); wave++) {
        const outcomes = await Promise.all(
          clients.map(async (c, i) => {
            await new Promise((r) => setTimeout(r, i % 4));
            return sqlstateOf(c, `INSERT INTO ${TABLE} VALUES ('during-${tag}-${wave}-${i}')`);
          }),
        );
        trail.push(`wave ${wave}: ${outcomes.map((s) => s ?? 'ran').join(', ')}`);
        for (const [i, s] of outcomes.entries()) {
          // Ran only if its record was flushed: 58030, the flush covering it failed (the session
          // ends); 53100, refused before its record was written (the log known to be out of space).
          expect(await rows(`during-${tag}-${wave}-${i}`), `wave ${wave} session ${i}: ${s ?? 'ran'}\n${said()}`).toBe(s === null ? 1 : 0);
          if (s !== null) refused.add(s);
        }
        for (const [i, s] of outcomes.entries()) if (s === '58030') clients[i] = await t.client(token);
      }
      // With a ring, whether the log's own background flush fails (58030) before an append finds the disk
      // full (53100) depends on timing (one fresh-clone CI of 2026-12-07 saw only 53100): either refusal
      // is the audit's, and no statement whose record was not flushed ran (checked above).
      if (ring === 0) expect([...refused].sort(), said()).toEqual(expect.arrayContaining(['58030']));
      else expect(refused.size, said()).toBeGreaterThan(0);
      for (const s of refused) expect(['58030', '53100'], said()).toContain(s);
      expect(operatorErrors.some((m) => m.includes('ENOSPC') || m.includes('EIO')), said()).toBe(true);

      own.heal();
      let state: string | null = 'not yet';
      for (let i = 0; i < 100 && state !== null; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const c = await t.client(token);
        state = await sqlstateOf(c, `INSERT INTO ${TABLE} VALUES ('after')`);
        await c.end();
      }
      expect(state, `still refused after healing\n${said()}`).toBeNull();
      expect(t.audit().some((r) => r.type === 'sink' && r.event === 'recovered')).toBe(true);

      // The log as the disk holds it, read past the page cache (O_DIRECT, as scripts/failed-flush-after-heal.ts
      // does), once closed (a preallocated log's zero tail cut): no NUL byte, every line a record.
      await t.close();
      closed = true;
      const onDisk = execFileSync('dd', [`if=${auditFile}`, 'bs=4096', 'iflag=direct', 'status=none'], { maxBuffer: 256 << 20 });
      expect(onDisk.filter((b) => b === 0).length, `NUL bytes on disk of ${onDisk.length}\n${said()}`).toBe(0);
      for (const line of onDisk.toString('utf8').split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line), line.slice(0, 120)).not.toThrow();
    } finally {
      own.heal();
      if (!closed) await t.close();
      own.remove();
    }
  });
});

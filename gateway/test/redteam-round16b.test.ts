// Red-team round 16b: a second, short pass against main after round 16 (lock prefix: enforce/lock-prefix.ts
// relationsPastLocks/lockedSegment/transactionEffects; server.ts auditSession queuing auth_ok/closed records).
// Method as in rounds 15/16: the R15-1 race made deterministic (a direct transaction holds a row the string's
// first statement updates; a migration turns the table a later statement reads into json, whose default btree
// operator class is a PL function raising the SSN it reads), both engines, real PostgreSQL.
//
// Found:
// - R16b-1 (medium, fixed): a string holding any statement that is not wrappable (a kind other than query,
//   write, COPY, EXPLAIN, SET, SHOW, transaction control) got no lock prefix at all, whatever came before it.
//   `; DEALLOCATE ALL` (allowed by the example policies) appended to the round-15 string reopened R15-1
//   completely: the migration's ALTER was granted while the UPDATE waited, the SELECT ran json's operator
//   class, NOTICEs carried the SSN (both engines, before the fix). Fixed (enforce/lock-prefix.ts wrappable()):
//   a string of several statements runs in an implicit transaction block anyway, so it is wrapped whatever it
//   holds (statements that cannot run in a block fail there with or without the prefix; LOCK and DECLARE have
//   their block); only a single statement of another kind is left alone. relationsPastLocks applies to such
//   strings too.
// - R16b-2 (low, audit completeness, fixed): the file sink kept at most 10,000 queued (writeSoon) records and
//   dropped the rest, silently while the log was healthy. Since conn16 auth_ok and closed records are queued,
//   so a burst of them within the 20 ms delay (a mass disconnect) dropped a new login's auth_ok while its
//   statement records, written later, reached the log. Fixed (audit/file-sink.ts): a full queue is written at
//   once while the log is writable. Still so during an outage (counted in the recovery record's outcomes_lost,
//   which now also counts session records; before conn16 every auth_ok during an outage was lost, the write's
//   refusal swallowed, so this is no regression); the PostgreSQL sink drops only during an outage (MAX_KEPT).
// Checked by reading, no finding: auth_ok is queued before the session's first message is read, and a
// statement record is written with every queued record ahead of it in the same append (file sink) or queue
// order (PostgreSQL sink), and is made durable before the statement is forwarded, so a statement's record
// cannot be durable without its auth_ok, under pipelining, the pool or an approvals hold alike; a failed flush
// loses both and the statement is not forwarded (audit-failing-disk.test.ts). A kill -9 loses auth_ok/closed
// records queued in the last 20 ms of sessions that sent no statement since (docs/audit.md says so).
// LOCK TABLE ONLY (parents with more than 15 partitions/children), by reading only, not run: ATTACH PARTITION and
// DETACH ... CONCURRENTLY take SHARE UPDATE EXCLUSIVE on the parent, which neither prefix mode blocks with or
// without ONLY (unchanged by it); what ONLY adds is a partition-level change after the decision, e.g. CREATE
// INDEX on one partition with a user operator class that a write routed through the parent then runs: that is
// the window docs/data-path.md already states (R16-4 paragraph); nothing worse was found, none written as a test.
// Side effect of the R16b-1 fix to know: a multi-statement string holding DDL now takes the NOWAIT prefix too, so
// under a conflicting lock it is refused at once (Gatehouse's 55P03) where it used to wait.
//
// Held (tests below): transaction control the first-word regex cannot read or reads as ending the locks is
// refused (0A000) when tables follow it: a comment before COMMIT (block or line), END, ABORT, COMMIT AND
// CHAIN, ROLLBACK AND CHAIN, ROLLBACK TO "A" after SAVEPOINT "A"-vs-a case mismatch, RELEASE of the string's
// savepoint followed by ROLLBACK TO an older one of the same name.
// By reading, not kept as tests: identifier truncation (63 bytes) only makes PostgreSQL pick a savepoint at or
// after the one the stack finds (safe); ROLLBACK PREPARED/COMMIT PREPARED are two_phase (end the locks); a
// procedure's COMMIT in a multi-statement string fails (the implicit block makes CALL atomic, 2D000), and CALL
// is not wrappable anyway (see R16b-1).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditSink } from '../src/audit/file-sink.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from '../src/audit/types.ts';
import type { Outcome } from './support/attempt.ts';
import { type TestGateway } from './support/harness.ts';
import { migrationRace } from './support/migration-race.ts';
import { useCatalogReadBeforeEach, useRedTeamFixture } from './support/redteam-fixture.ts';
import { migrationTablesSql } from './support/user-operator-classes.ts';

const { cleanup: CLEANUP, setup: SETUP } = migrationTablesSql('rt16b');

const ALTER = 'public.pgbench_rt16b_alter';
const WARM = 'public.pgbench_rt16b_warm';
const PROBE = `SELECT DISTINCT v FROM ${ALTER} ORDER BY v`;

// pg_locks is the whole server's (other test files run on other databases): this database's backends only.

describe.each(['rego', 'cedar'] as const)('red-team round 16b (%s): the lock prefix', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'rt16b',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'rt16b-agent', groups: ['agents', 'bench'] },
  });
  const { attempt } = rt;
  let t: TestGateway, direct: pg.Client, agent: pg.Client, ssn: string;
  beforeAll(() => void ({ gateway: t, direct, agent, ssn } = rt));
  const catalogRead = useCatalogReadBeforeEach(rt, `SELECT count(*) FROM ${ALTER}`);

  const race = migrationRace({ alter: ALTER, warm: WARM, direct: () => direct, upstreamUrl: () => t.upstreamUrl, catalogRead });

  for (const [label, ender] of [
    ['a block comment before COMMIT', '/* x */ COMMIT'],
    ['a line comment before COMMIT', '-- x\nCOMMIT'],
    ['END', 'END'],
    ['ABORT', 'ABORT'],
    ['COMMIT AND CHAIN', 'COMMIT AND CHAIN'],
    ['ROLLBACK AND CHAIN', 'ROLLBACK AND CHAIN'],
  ] as const) {
    it(`held: ${label} in the middle, then tables: refused (0A000), nothing run`, async () => {
      const o = await attempt(agent, `BEGIN; SELECT 1; ${ender}; UPDATE ${WARM} SET v = 'r' WHERE id = 21; ${PROBE}`);
      expect(o.code).toBe('0A000');
      expect(((await direct.query(`SELECT v FROM ${WARM} WHERE id = 21`)).rows[0] as { v: string }).v).toBe('x');
    });
  }

  it('held: ROLLBACK TO a, where the string set "A" and an earlier Query set a: refused (0A000)', async () => {
    await agent.query('BEGIN; SAVEPOINT a');
    let o: Outcome;
    try {
      o = await attempt(agent, `SAVEPOINT "A"; SELECT 1; ROLLBACK TO a; UPDATE ${WARM} SET v = 'r' WHERE id = 22; ${PROBE}`);
    } finally {
      await agent.query('ROLLBACK');
    }
    expect(o.code).toBe('0A000');
  });

  it('held: SAVEPOINT a; RELEASE a; ROLLBACK TO a (the earlier Query\'s a): refused (0A000)', async () => {
    await agent.query('BEGIN; SAVEPOINT a');
    let o: Outcome;
    try {
      o = await attempt(agent, `BEGIN; SAVEPOINT a; RELEASE a; ROLLBACK TO a; UPDATE ${WARM} SET v = 'r' WHERE id = 23; ${PROBE}`);
    } finally {
      await agent.query('ROLLBACK');
    }
    expect(o.code).toBe('0A000');
  });

  // R16b-1: a string with a statement that is not wrappable was left without a prefix whatever came
  // before it: `; DEALLOCATE ALL` (allowed by the example policies) appended to the round-15 string
  // reopened R15-1 (SSN in NOTICEs, checked before the fix). Fixed: a string of several statements is wrapped.
  it('R16b-1: the round-15 string with "; DEALLOCATE ALL" appended is locked: the migration waits, no SSN', async () => {
    const { result, alterWaited } = await race(30, () => attempt(agent, `UPDATE ${WARM} SET v = 'y' WHERE id = 30; ${PROBE}; DEALLOCATE ALL`));
    const o = result as Outcome;
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBeNull();
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(alterWaited).toBe(true);
  });
});

// R16b-2: server.ts queues auth_ok and closed records (AuditSink.writeSoon) since conn16. The file sink kept
// at most 10,000 queued records and dropped any beyond, silently when the log was healthy (counted as
// outcomes_lost only during an outage): a burst of queued records within the 20 ms delay (a mass disconnect's
// closed records) made a login's auth_ok vanish while its statements, written later, reached the log.
describe('red-team round 16b: session records queued by the audit sink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt16b-audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const who = { identity: { subject: 'rt16b', issuer: 'i', groups: [], roles: [], name: null } };
  const session = (id: string, event: 'auth_ok' | 'closed'): AuditRecord => ({
    v: AUDIT_RECORD_VERSION, type: 'session', time: new Date().toISOString(), session_id: id, event, client_address: '127.0.0.1', application_name: '', ...who, reason: null,
  });

  it('R16b-2: a login\'s auth_ok reaches the log ahead of its statement even after a burst of 10,000 queued records', async () => {
    const file = join(dir, 'burst.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    for (let i = 0; i < 10_000; i++) sink.writeSoon(session(`gone-${i}`, 'closed'));
    sink.writeSoon(session('late', 'auth_ok'));
    const statement = { v: AUDIT_RECORD_VERSION, type: 'statement', time: new Date().toISOString(), session_id: 'late' } as unknown as AuditRecord;
    try {
      sink.write(statement);
    } catch {
      // only the order of what reached the file matters
    }
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; session_id?: string; event?: string });
    const authAt = lines.findIndex((r) => r.type === 'session' && r.session_id === 'late' && r.event === 'auth_ok');
    const stmtAt = lines.findIndex((r) => r.type === 'statement' && r.session_id === 'late');
    expect(stmtAt, "the statement record").toBeGreaterThan(0);
    expect(authAt, "the auth_ok record").toBeGreaterThan(0);
    expect(authAt).toBeLessThan(stmtAt);
    expect(lines.filter((r) => r.type === 'session' && r.event === 'closed')).toHaveLength(10_000);
  });
});

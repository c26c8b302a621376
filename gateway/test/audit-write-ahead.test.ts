// Write-ahead on the paths where a statement is forwarded later than it arrived: after an approval,
// and after a policy decision that arrives asynchronously. The gateway's real file sink is wrapped
// so that the test decides when a flush completes: until then the statement's record is in the
// file but the statement has not reached PostgreSQL (pg_stat_activity, the row itself); once the
// flush completes, it runs.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditSink } from '../src/audit/file-sink.ts';
import { redactRecord } from '../src/audit/redact.ts';
import type { AuditRecord, AuditSink } from '../src/audit/types.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { HeldEvaluator } from './support/held-evaluator.ts';

/** The real file sink, whose flush answers (whenDurable) wait while the test holds them. */
class GatedSink implements AuditSink {
  private holding = false;
  private readonly queued: Array<(error: Error | null) => void> = [];
  constructor(private readonly inner: AuditSink) {}
  write(record: AuditRecord): void {
    this.inner.write(record);
  }
  writeSoon(record: AuditRecord): void {
    this.inner.writeSoon(record);
  }
  whenDurable(done: (error: Error | null) => void): void {
    if (this.holding) this.queued.push(done);
    else this.inner.whenDurable(done);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  hold(): void {
    this.holding = true;
  }
  get waiting(): number {
    return this.queued.length;
  }
  release(): void {
    this.holding = false;
    for (const done of this.queued.splice(0)) this.inner.whenDurable(done);
  }
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

const evaluator = new HeldEvaluator();
const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-wal-')), 'audit.ndjson');
const sink = new GatedSink(openAuditSink(auditFile, { fsync: true, redact: redactRecord }));
let t: TestGateway;
let direct: pg.Client;

/** Backends (other than the one asking) whose current or last statement contains `marker`. */
async function seenByPostgres(marker: string): Promise<number> {
  const r = await direct.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND position($1 IN query) > 0', [marker]);
  return r.rows[0].n as number;
}

beforeAll(async () => {
  t = await startTestGateway({ admin: true, evaluator, decisionCache: HeldEvaluator.noCache(), auditFile, auditSink: sink });
  direct = new pg.Client({ connectionString: t.upstreamUrl });
  await direct.connect();
}, 120_000);

afterAll(async () => {
  sink.release();
  evaluator.releaseAll();
  await direct?.end();
  await t?.close();
  await sink.close();
});

describe('write-ahead audit', () => {
  it('a statement released by an approval reaches PostgreSQL only once its record is durable', async () => {
    const agent = await t.client(await t.token('agent-7', ['agents']));
    const lead = await t.token('lead-1', ['clinical-leads']);
    const before = (await direct.query('SELECT phone FROM clinical.patients WHERE id = 4')).rows[0].phone as string;
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0177' WHERE id = 4");
    const request = await pendingRequest(t.gw.adminPort!, lead, "'555-0177'");
    sink.hold();
    expect((await api(t.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve', comment: 'ok' })).status).toBe(200);
    // The approved statement is decided and recorded, then waits for the flush.
    await until('the approved statement waits for the audit flush', () => sink.waiting > 0);
    const records = t.audit();
    expect(records.some((r) => r.type === 'statement' && r.decision_id === request.decision_id && r.decision === 'allow')).toBe(true);
    expect(await seenByPostgres('555-0177')).toBe(0);
    expect((await direct.query('SELECT phone FROM clinical.patients WHERE id = 4')).rows[0].phone).toBe(before);
    sink.release();
    expect((await held).rowCount).toBe(1);
    expect((await direct.query('SELECT phone FROM clinical.patients WHERE id = 4')).rows[0].phone).toBe('555-0177');
    await direct.query('UPDATE clinical.patients SET phone = $1 WHERE id = 4', [before]);
  });

  it('a statement decided asynchronously reaches PostgreSQL only once its record is durable', async () => {
    const agent = await t.client(await t.token('agent-wait', ['agents']));
    const query = agent.query('SELECT 42 AS held_write_ahead');
    await evaluator.held(1);
    sink.hold();
    evaluator.releaseAll();
    await until('the decided statement waits for the audit flush', () => sink.waiting > 0);
    expect(t.audit().some((r) => r.type === 'statement' && r.statement.includes('held_write_ahead') && r.decision === 'allow')).toBe(true);
    expect(await seenByPostgres('held_write_ahead')).toBe(0);
    sink.release();
    expect((await query).rows).toEqual([{ held_write_ahead: 42 }]);
    expect(await seenByPostgres('held_write_ahead')).toBe(1);
  });
});

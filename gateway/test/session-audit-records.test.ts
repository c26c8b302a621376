// Session records (auth_ok, closed) of sessions that went well are queued (AuditSink.writeSoon)
// rather than written on their own: they reach the log with the session's first statement record,
// ahead of it and in the same durable batch, or within the sink's short delay, or at close. A new
// connection per transaction then costs one audit write instead of three (issue 8, pgbench -C).
// Refusals are still written at once. The gateway's real file sink is wrapped to see which way
// each record went.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditSink } from '../src/audit/file-sink.ts';
import { redactRecord } from '../src/audit/redact.ts';
import type { AuditRecord, AuditSink } from '../src/audit/types.ts';
import { connectSqlstate, startTestGateway, type TestGateway } from './support/harness.ts';

type Way = 'write' | 'soon';

/** The real file sink, remembering how each record was handed to it. */
class WatchedSink implements AuditSink {
  readonly handed: Array<{ way: Way; record: AuditRecord }> = [];
  constructor(private readonly inner: AuditSink) {}
  write(record: AuditRecord): void {
    this.handed.push({ way: 'write', record });
    this.inner.write(record);
  }
  writeSoon(record: AuditRecord): void {
    this.handed.push({ way: 'soon', record });
    this.inner.writeSoon(record);
  }
  whenDurable(done: (error: Error | null) => void): void {
    this.inner.whenDurable(done);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** How the session records of the session named by application_name were handed over, in order. */
  sessionEvents(applicationName: string): string[] {
    return this.handed.flatMap(({ way, record }) => (record.type === 'session' && record.application_name === applicationName ? [`${record.event} ${way}`] : []));
  }
}

const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-session-audit-')), 'audit.ndjson');
const sink = new WatchedSink(openAuditSink(auditFile, { fsync: true, redact: redactRecord }));
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ auditFile, auditSink: sink });
});
afterAll(async () => {
  await t?.close();
  await sink.close();
});

const sessionRecords = (records: AuditRecord[], applicationName: string): AuditRecord[] =>
  records.filter((r) => r.type === 'session' && r.application_name === applicationName);

describe('session audit records', () => {
  it('a login that went well is queued, and in the log ahead of its first statement, before that statement runs', async () => {
    const c = await t.client(await t.token('soon-1', ['agents']), { application_name: 'soon-1' });
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    // The statement has run, so its record was durable: the login's record went with it, ahead of it.
    const records = t.audit();
    const login = records.find((r) => r.type === 'session' && r.application_name === 'soon-1' && r.event === 'auth_ok');
    const sessionId = login?.type === 'session' ? login.session_id : null;
    const statement = records.find((r) => r.type === 'statement' && r.session_id === sessionId);
    expect(login).toBeDefined();
    expect(statement).toBeDefined();
    expect(records.indexOf(login!)).toBeLessThan(records.indexOf(statement!));
    await c.end();
    await t.auditUntil((rs) => sessionRecords(rs, 'soon-1').some((r) => r.type === 'session' && r.event === 'closed'));
    expect(sink.sessionEvents('soon-1')).toEqual(['auth_ok soon', 'closed soon']);
  });

  it('a session that runs no statement still gets both its records', async () => {
    const c = await t.client(await t.token('soon-2', ['agents']), { application_name: 'soon-2' });
    await c.end();
    const records = await t.auditUntil((rs) => sessionRecords(rs, 'soon-2').length === 2);
    expect(sessionRecords(records, 'soon-2').map((r) => (r.type === 'session' ? r.event : r.type))).toEqual(['auth_ok', 'closed']);
  });

  it('a refused login is written at once', async () => {
    const before = sink.handed.length;
    const state = await connectSqlstate({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: 'not-a-token', application_name: 'refused-1' });
    expect(state).toBe('28P01');
    expect(sink.handed.slice(before).map(({ way, record }) => `${record.type === 'session' ? record.event : record.type} ${way}`)).toContain('auth_failed write');
  });
});

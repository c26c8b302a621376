// Sixth red-team round, part two: protocol hardening (statement limits, handshake limits, the admin
// listener's credentials, COPY and Sync), through a real Gatehouse to the real PostgreSQL with real
// clients and JWTs. Every test asserts the SECURE behaviour; what was found is listed here.
//
//   R6-P1 (high, fixed) the statement counter (sql/statement-count.ts) ended a `--` comment only at
//         "\n", PostgreSQL's lexer (and libpg-query's, the same one) ends it at "\r" too: a Query
//         `SELECT 0; -- x\r` followed by 40,000 statements and a "\n" was counted as one statement,
//         so the limit that keeps one message from stalling every session (the 40,000-statement
//         Query that took the Cedar gateway down) did not apply; it was parsed and decided.
//   R6-P2 (medium, fixed) the per-query statement count applied to simple Queries only: a Parse
//         message of 40,000 statements (under max_statement_bytes) was parsed whole by libpg-query
//         on the shared event loop before "cannot insert multiple commands" was answered. The count
//         now applies to Parse too (54000 past limits.max_statements_per_query).
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_redteam6 npx vitest run --project integration gateway/test/redteam-protocol.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../src/auth/dev-keys.ts';
import { sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, serialize, WireClient } from './support/wire-client.ts';

const MANY = Array.from({ length: 40_000 }, (_, i) => `SELECT ${i}`).join(';');

describe('statement limits cannot be talked around', () => {
  let t: TestGateway;
  let agent: pg.Client;
  let token: string;

  beforeAll(async () => {
    t = await startTestGateway();
    token = await t.token('redteam6-limits', ['agents']);
    agent = await t.client(token);
  });
  afterAll(async () => t?.close());

  it('R6-P1: a "--" comment ended by a carriage return does not hide 40,000 statements', async () => {
    const sql = `SELECT 0; -- hides nothing\r${MANY};\n`;
    expect(await sqlstateOf(agent, sql)).toBe('54000');
    expect((await agent.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });

  it('R6-P2: a Parse of 40,000 statements is refused before it is parsed (54000)', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.parse({ name: '', text: MANY }), serialize.sync());
    const [batch] = await w.untilReady(1);
    expect(errorCodes(batch!)).toEqual(['54000']);
    w.close();
  });
});

describe('the admin read credentials cannot be talked around', () => {
  const READ_TOKEN = 'rt6-read-token-0123456789abcdef';
  let t: TestGateway;
  let base: string;

  beforeAll(async () => {
    t = await startTestGateway({ adminSettings: { read_token: READ_TOKEN, read_group: 'ops' } });
    base = `http://127.0.0.1:${t.gw.adminPort}`;
  });
  afterAll(async () => t?.close());

  const status = async (path: string, init: RequestInit = {}): Promise<number> => {
    const res = await fetch(`${base}${path}`, init);
    await res.arrayBuffer();
    return res.status;
  };

  it('no spelling of the read paths serves them without a credential', async () => {
    for (const path of ['/policy/status', '/metrics', '/policy/./status', '/policy/status?x=1', '/metrics?format=json', '/x/../metrics', '/policy/status/', '/%70olicy/status', '/METRICS', '/policy//status']) {
      expect(await status(path), path).not.toBe(200);
    }
    expect(await status('/metrics', { method: 'HEAD' })).not.toBe(200);
    expect(await status('/metrics', { method: 'POST', body: '{}' })).not.toBe(200);
  });

  it('only the read token itself or a valid JWT of the read group is a credential', async () => {
    const bearer = (v: string) => ({ headers: { Authorization: v } });
    expect(await status('/metrics', bearer(`Bearer ${READ_TOKEN}`))).toBe(200);
    for (const wrong of [
      `Bearer ${READ_TOKEN}x`,
      `Bearer ${READ_TOKEN.slice(0, -1)}`,
      `Bearer ${READ_TOKEN} extra`,
      `Basic ${Buffer.from(`x:${READ_TOKEN}`).toString('base64')}`,
      READ_TOKEN,
      `Bearer ${await t.token('rt6-agent', ['agents'])}`,
      `Bearer ${await t.token('rt6-ops-lookalike', ['OPS', 'ops_'])}`,
      `Bearer ${await mintDevToken({ keyDir: t.keyDir, subject: 'rt6-ops-expired', groups: ['ops'], ttlSeconds: -600 })}`,
      `Bearer ${await mintDevToken({ keyDir: t.keyDir, subject: 'rt6-ops-aud', groups: ['ops'], ttlSeconds: 600, audience: 'elsewhere' })}`,
    ]) {
      expect(await status('/policy/status', bearer(wrong)), wrong.slice(0, 40)).toBe(401);
    }
    expect(await status('/policy/status', bearer(`Bearer ${await t.token('rt6-ops', ['ops'])}`))).toBe(200);
    // The read token is not an identity: the approval API refuses it.
    expect(await status('/approvals/api/requests', bearer(`Bearer ${READ_TOKEN}`))).toBe(401);
  });
});

// Bounded work per message: one Query of 40,000 short statements (509 KB, what took the Cedar
// gateway down and stalled the Rego one) and SQL texts over a megabyte are refused with 54000
// before they are parsed or decided, audited, and the session and every other session go on.

import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

/** A raw client connection: send bytes, wait until what came back satisfies a test. */
class RawClient {
  private got = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.got = Buffer.concat([this.got, d]);
      this.waiter?.();
    });
    sock.on('error', () => undefined);
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => resolve(new RawClient(sock)));
      sock.once('error', reject);
    });
  }
  send(b: Buffer): void {
    this.sock.write(b);
  }
  /** Messages received so far, as [type, body]. */
  messages(): Array<[string, Buffer]> {
    const out: Array<[string, Buffer]> = [];
    let off = 0;
    while (off + 5 <= this.got.length) {
      const len = this.got.readInt32BE(off + 1);
      if (off + 1 + len > this.got.length) break;
      out.push([String.fromCharCode(this.got[off]!), this.got.subarray(off + 5, off + 1 + len)]);
      off += 1 + len;
    }
    return out;
  }
  async until(test: (ms: Array<[string, Buffer]>) => boolean): Promise<Array<[string, Buffer]>> {
    while (!test(this.messages())) await new Promise<void>((r) => (this.waiter = r));
    this.waiter = null;
    return this.messages();
  }
  close(): void {
    this.sock.destroy();
  }
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

const sqlstates = (ms: Array<[string, Buffer]>): string[] =>
  ms.filter(([t]) => t === 'E').map(([, b]) => /C([0-9A-Z]{5})\0/.exec(b.toString('latin1'))?.[1] ?? '?');

const HOSTILE = Array.from({ length: 40_000 }, (_, i) => `SELECT ${i}`).join(';');

describe.each(['rego', 'cedar'] as const)('statement limits (%s)', (engine) => {
  let t: TestGateway;
  let agent: pg.Client;
  let bystander: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    const token = await t.token('limits@example.com', ['agents']);
    agent = await t.client(token);
    bystander = await t.client(token);
  });
  afterAll(async () => t?.close());

  it('refuses the 40,000-statement Query with 54000 naming the limit, audits it, and the process serves on', async () => {
    expect(HOSTILE.length).toBeGreaterThan(500_000);
    const error = await agent.query(HOSTILE).then(
      () => null,
      (e: { code?: string; message?: string }) => e,
    );
    expect(error?.code).toBe('54000');
    expect(error?.message).toContain('limits.max_statements_per_query');
    // The same session and another one are served.
    expect((await agent.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await bystander.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('max_statements_per_query')));
    const record = records.find((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('max_statements_per_query'));
    expect(record?.type === 'statement' && record.statement.length).toBeLessThan(1100);
    const outcome = records.find((r) => r.type === 'outcome' && record?.type === 'statement' && r.decision_id === record.decision_id);
    expect(outcome?.type === 'outcome' && outcome.outcome).toMatchObject({ status: 'refused', sqlstate: '54000' });
  });

  it('refuses a Query over the size limit from its first bytes, before the rest is sent, and reads the next message intact', async () => {
    const token = await t.token('limits-raw@example.com', ['agents']);
    const raw = await RawClient.open(t.port);
    try {
      raw.send(startupMessage({ user: 'agent', database: 'postgres' }));
      raw.send(message('p', Buffer.from(`${token}\0`)));
      await raw.until((ms) => ms.some(([type]) => type === 'Z'));
      const before = raw.messages().length;
      const big = message('Q', Buffer.from(`SELECT length('${'x'.repeat(10 * 1024 * 1024)}')\0`));
      raw.send(big.subarray(0, 64 * 1024)); // the header says 10 MiB; only 64 KiB of it is sent
      const refused = (await raw.until((ms) => ms.slice(before).some(([type]) => type === 'Z'))).slice(before);
      expect(sqlstates(refused)).toEqual(['54000']);
      expect(refused.find(([type]) => type === 'E')![1].toString()).toContain(`${big.length - 6} bytes, over the limit`);
      // The rest of the refused message is read and dropped; the message after it runs.
      raw.send(Buffer.concat([big.subarray(64 * 1024), message('Q', Buffer.from('SELECT 2 AS two\0'))]));
      const next = (await raw.until((ms) => ms.slice(before).filter(([type]) => type === 'Z').length === 2)).slice(before);
      expect(sqlstates(next)).toEqual(['54000']);
      expect(next.some(([type, body]) => type === 'D' && body.toString().endsWith('2'))).toBe(true);
    } finally {
      raw.close();
    }
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('limits.max_statement_bytes')));
    const record = records.find((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('limits.max_statement_bytes'));
    expect(record?.type === 'statement' && record.statement.length).toBeLessThan(1100);
  });

  it('refuses a Parse over the size limit from its first bytes, before the rest is sent; its batch is skipped to the Sync and the next message runs', async () => {
    const token = await t.token('limits-raw-parse@example.com', ['agents']);
    const raw = await RawClient.open(t.port);
    try {
      raw.send(startupMessage({ user: 'agent', database: 'postgres' }));
      raw.send(message('p', Buffer.from(`${token}\0`)));
      await raw.until((ms) => ms.some(([type]) => type === 'Z'));
      const before = raw.messages().length;
      const big = message('P', Buffer.concat([Buffer.from(`big\0SELECT length('${'x'.repeat(10 * 1024 * 1024)}')\0`), Buffer.from([0, 0])]));
      raw.send(big.subarray(0, 64 * 1024)); // the header says 10 MiB; only 64 KiB of it is sent
      const refused = (await raw.until((ms) => ms.slice(before).some(([type]) => type === 'E'))).slice(before);
      expect(sqlstates(refused)).toEqual(['54000']);
      expect(refused.find(([type]) => type === 'E')![1].toString()).toMatch(/its SQL text is at least \d+ bytes, over the limit of 1048576 bytes \(limits.max_statement_bytes\)/);
      // The rest is read and dropped; the Bind of the refused statement is skipped with the batch, and the Query after the Sync runs.
      const bind = message('B', Buffer.from('\0big\0\0\0\0\0\0\0'));
      raw.send(Buffer.concat([big.subarray(64 * 1024), bind, message('S', Buffer.alloc(0)), message('Q', Buffer.from('SELECT 2 AS two\0'))]));
      const next = (await raw.until((ms) => ms.slice(before).filter(([type]) => type === 'Z').length === 2)).slice(before);
      expect(sqlstates(next)).toEqual(['54000']);
      expect(next.some(([type, body]) => type === 'D' && body.toString().endsWith('2'))).toBe(true);
    } finally {
      raw.close();
    }
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('at least') && r.reason.includes('limits.max_statement_bytes')));
    const record = records.find((r) => r.type === 'statement' && r.decision === 'deny' && r.reason.includes('at least') && r.reason.includes('limits.max_statement_bytes'));
    expect(record?.type === 'statement' && record.statement.length).toBeLessThan(1100);
  });

  it('runs a Query of exactly the limit (1,000 statements)', async () => {
    const sql = Array.from({ length: 1000 }, (_, i) => `SELECT ${i} AS n`).join(';');
    const results = (await agent.query(sql)) as unknown as pg.QueryResult[];
    expect(results).toHaveLength(1000);
    expect(results[999]!.rows).toEqual([{ n: 999 }]);
  });

  it('refuses a SQL text over limits.max_statement_bytes, in a Query and in a Parse', async () => {
    const literal = `SELECT length('${'x'.repeat(2 * 1024 * 1024)}')`;
    expect(await sqlstateOf(agent, literal)).toBe('54000');
    expect(await sqlstateOf(agent, `${literal} WHERE $1::int = 1`, [1])).toBe('54000');
    // Within the limit, the same value as a parameter runs.
    const ok = await agent.query('SELECT length($1::text) AS n', ['x'.repeat(2 * 1024 * 1024)]);
    expect(ok.rows).toEqual([{ n: 2 * 1024 * 1024 }]);
  });
});

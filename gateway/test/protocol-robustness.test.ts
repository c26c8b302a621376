// Malformed protocol input closes only the offending connection, with an error; the process keeps
// serving other sessions.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';

/** Sends raw bytes and collects everything the gateway answers until it closes the connection. */
function rawExchange(port: number, chunks: Buffer[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(Buffer.concat(got)));
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
    });
    setTimeout(() => sock.destroy(), 10_000);
  });
}

function startup(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(k + '\0'), Buffer.from(v + '\0')]),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The SQLSTATE of the first ErrorResponse in a byte stream, if any. */
function firstSqlstate(buf: Buffer): string | null {
  let off = 0;
  while (off + 5 <= buf.length) {
    const type = String.fromCharCode(buf[off]!);
    const len = buf.readInt32BE(off + 1);
    if (type === 'E') {
      const body = buf.subarray(off + 5, off + 1 + len).toString('latin1');
      const m = /C([0-9A-Z]{5})\0/.exec(body);
      return m ? m[1]! : null;
    }
    if (len < 4) return null;
    off += 1 + len;
  }
  return null;
}

describe('malformed protocol input', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await startTestGateway();
    token = await t.token('agent-robust', ['agents']);
  });
  afterAll(async () => t?.close());

  async function stillServing(): Promise<void> {
    const c = await t.client(token);
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  }

  it('a startup packet with an absurd length closes that connection', async () => {
    const bad = Buffer.alloc(8);
    bad.writeInt32BE(0x7fffffff, 0);
    const answer = await rawExchange(t.port, [bad]);
    expect(firstSqlstate(answer)).toBe('08P01');
    await stillServing();
  });

  it('garbage instead of a startup packet closes that connection', async () => {
    await rawExchange(t.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    await stillServing();
  });

  it('an unterminated startup parameter list is refused', async () => {
    const good = startup({ user: 'agent' });
    const truncated = Buffer.from(good.subarray(0, good.length - 1));
    truncated.writeInt32BE(truncated.length, 0);
    expect(firstSqlstate(await rawExchange(t.port, [truncated]))).toBe('08P01');
    await stillServing();
  });

  it('a non-password message where the password belongs is refused', async () => {
    const answer = await rawExchange(t.port, [startup({ user: 'agent', database: 'postgres' }), message('Q', Buffer.from('SELECT 1\0'))]);
    expect(firstSqlstate(answer)).toBe('08P01');
    await stillServing();
  });

  async function afterLogin(extra: Buffer[]): Promise<Buffer> {
    const pw = message('p', Buffer.from(token + '\0'));
    return rawExchange(t.port, [startup({ user: 'agent', database: 'postgres' }), pw, ...extra]);
  }

  it('garbage after a successful startup closes only that session', async () => {
    const answer = await afterLogin([Buffer.from('\x01\x02\x03\x04\x05garbage-garbage')]);
    expect(answer.includes(Buffer.from('08P01'))).toBe(true);
    await stillServing();
  });

  it('a truncated Bind message is refused with 08P01', async () => {
    const bind = message('B', Buffer.from([0, 0, 0, 5])); // portal "" then statement "" missing, counts cut short
    const answer = await afterLogin([bind, message('S', Buffer.alloc(0))]);
    expect(answer.includes(Buffer.from('08P01'))).toBe(true);
    await stillServing();
  });

  it('a message length below the minimum is refused', async () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    const answer = await afterLogin([bad]);
    expect(answer.includes(Buffer.from('08P01'))).toBe(true);
    await stillServing();
  });

  it('an oversized message is refused before it is buffered', async () => {
    const head = Buffer.alloc(5);
    head.write('Q', 0);
    head.writeInt32BE(512 * 1024 * 1024, 1);
    const answer = await afterLogin([head, Buffer.alloc(1024)]);
    expect(answer.includes(Buffer.from('08P01'))).toBe(true);
    await stillServing();
  });

  it('a client that disconnects mid-message does not disturb others', async () => {
    const partial = message('Q', Buffer.from('SELECT 1\0')).subarray(0, 7);
    const other = await t.client(token);
    const pending = other.query('SELECT pg_sleep(0.2), 3 AS three');
    await afterLogin([partial]);
    expect((await pending).rows[0].three).toBe(3);
  });

  it('fast-path function calls are refused (they bypass SQL analysis)', async () => {
    const fc = message('F', Buffer.from([0, 0, 0x04, 0x4b, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const answer = await afterLogin([fc, message('S', Buffer.alloc(0)), message('X', Buffer.alloc(0))]);
    expect(answer.includes(Buffer.from('0A000'))).toBe(true);
    await stillServing();
  });
});

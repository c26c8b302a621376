// Live tests against the PostgreSQL on this machine (127.0.0.1:5432, trust for user postgres).

import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../errors.ts';
import { decodeErrorFields, decodeReadyForQuery } from '../../wire/backend.ts';
import { BE } from '../../wire/message-types.ts';
import { sendCancel } from './cancel.ts';
import { connectUpstream } from './connect.ts';
import { close, query } from './test-query.ts';

const URL = 'postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable';

async function upstreamError(p: Promise<unknown>): Promise<Error & { code: string; detail?: string }> {
  try {
    await p;
  } catch (e) {
    expect(isGatehouseError(e)).toBe(true);
    return e as Error & { code: string };
  }
  throw new Error('expected a failure');
}

describe('connectUpstream (live PostgreSQL, trust)', () => {
  it('connects, collects parameters and runs a query on the returned socket', async () => {
    const conn = await connectUpstream({ url: URL, connectTimeoutMs: 5000, applicationName: 'gh-test' });
    expect(conn.parameters.get('server_version')).toMatch(/^\d+/);
    expect(conn.parameters.get('client_encoding')).toBe('UTF8');
    expect(conn.parameters.get('application_name')).toBe('gh-test');
    expect(conn.processId).toBeGreaterThan(0);
    expect(conn.secretKey.length).toBe(4);
    expect(conn.initialBuffer.length).toBe(0);
    expect(conn.tls).toBe(false);
    const frames = await query(conn, 'select pg_backend_pid()');
    const row = frames.find((f) => f.type === BE.DataRow)!;
    expect(row.body.subarray(6).toString()).toBe(String(conn.processId));
    expect(decodeReadyForQuery(frames.at(-1)!.body)).toBe('I');
    close(conn);
  });

  it('creates a SCRAM role (pg_hba here is trust, so the server does not ask for SCRAM)', async () => {
    const conn = await connectUpstream({ url: URL, connectTimeoutMs: 5000 });
    await query(conn, 'DROP ROLE IF EXISTS gh_scram_test');
    const frames = await query(conn, "SET password_encryption='scram-sha-256'; CREATE ROLE gh_scram_test LOGIN PASSWORD 'x y%z'");
    expect(frames.some((f) => f.type === BE.ErrorResponse)).toBe(false);
    const scram = await connectUpstream({
      url: 'postgresql://gh_scram_test:x%20y%25z@127.0.0.1:5432/postgres?sslmode=disable',
      connectTimeoutMs: 5000,
    });
    expect(scram.parameters.get('is_superuser')).toBe('off');
    close(scram);
    await query(conn, 'DROP ROLE gh_scram_test');
    close(conn);
  });

  it('applies the database override and extra parameters, ignoring reserved ones', async () => {
    const conn = await connectUpstream({
      url: 'postgresql://postgres@127.0.0.1:5432/nonexistent?sslmode=disable',
      database: 'postgres',
      extraParams: { DateStyle: 'ISO, DMY', user: 'someone_else', replication: 'database' },
      connectTimeoutMs: 5000,
    });
    expect(conn.parameters.get('DateStyle')).toBe('ISO, DMY');
    expect(conn.parameters.get('session_authorization')).toBe('postgres');
    close(conn);
  });

  it('negotiates TLS with sslmode=require when the server has it', async () => {
    const conn = await connectUpstream({
      url: 'postgresql://postgres@127.0.0.1:5432/postgres?sslmode=require',
      connectTimeoutMs: 5000,
    });
    expect(conn.tls).toBe(true);
    const frames = await query(conn, "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
    expect(frames.find((f) => f.type === BE.DataRow)!.body.subarray(6).toString()).toBe('t');
    close(conn);
  });

  it('turns a server ErrorResponse into UPSTREAM_UNAVAILABLE with its SQLSTATE', async () => {
    const e = await upstreamError(
      connectUpstream({ url: 'postgresql://postgres:pw-not-shown@127.0.0.1:5432/gh_no_such_db?sslmode=disable', connectTimeoutMs: 5000 }),
    );
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.message).toContain('3D000');
    expect(e.message).not.toContain('pw-not-shown');
  });

  it('reports a refused connection without the password', async () => {
    const e = await upstreamError(
      connectUpstream({ url: 'postgresql://postgres:topsecret@127.0.0.1:1/postgres?sslmode=disable', connectTimeoutMs: 5000 }),
    );
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).not.toContain('topsecret');
    expect(JSON.stringify(e.detail)).not.toContain('topsecret');
  });

  it('asks for standard_conforming_strings on and UTF8, over the connection options', async () => {
    const conn = await connectUpstream({
      url: `${URL}&options=${encodeURIComponent('-c standard_conforming_strings=off -c client_encoding=SJIS')}`,
      connectTimeoutMs: 5000,
    });
    expect(conn.parameters.get('standard_conforming_strings')).toBe('on');
    expect(conn.parameters.get('client_encoding')).toBe('UTF8');
    close(conn);
  });

  it('refuses a session whose standard_conforming_strings or client_encoding would change how SQL is parsed', async () => {
    const unsafe: Record<string, string>[] = [{ standard_conforming_strings: 'off' }, { client_encoding: 'SJIS' }];
    for (const extraParams of unsafe) {
      const e = await upstreamError(connectUpstream({ url: URL, extraParams, connectTimeoutMs: 5000 }));
      expect(e.code).toBe('UNSAFE_PARSER_SESSION');
      expect((e as unknown as { sqlstate: string }).sqlstate).toBe('22023');
    }
  });

  it('cancels a running query with sendCancel', async () => {
    const conn = await connectUpstream({ url: URL, connectTimeoutMs: 5000 });
    const pending = query(conn, 'select pg_sleep(20)');
    await new Promise((r) => setTimeout(r, 200));
    await sendCancel(conn.host, conn.port, conn.processId, conn.secretKey);
    const frames = await pending;
    const err = frames.find((f) => f.type === BE.ErrorResponse)!;
    // 57014 (query_canceled) is what a cancelled pg_sleep ends with; a sleep run to its end has none.
    expect(decodeErrorFields(err.body)['C']).toBe('57014');
    close(conn);
  });
});

describe('connectUpstream (fake servers)', () => {
  let server: Server;
  let port = 0;
  let behaviour: (socket: Socket) => void = () => undefined;

  const open = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((s) => {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => open.delete(s));
      behaviour(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('times out on a server that never answers', async () => {
    behaviour = () => undefined;
    const e = await upstreamError(
      connectUpstream({ url: `postgresql://u:never-shown@127.0.0.1:${port}/db?sslmode=disable`, connectTimeoutMs: 300 }),
    );
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.message).toContain('timed out after 300 ms while authenticating');
  });

  it('refuses sslmode=require when the server answers N', async () => {
    behaviour = (s) => s.once('data', () => s.write('N'));
    const e = await upstreamError(connectUpstream({ url: `postgresql://u@127.0.0.1:${port}/db?sslmode=require`, connectTimeoutMs: 2000 }));
    expect(e.message).toContain('does not support TLS');
  });

  it('refuses plaintext injected after the SSL answer (CVE-2021-23222)', async () => {
    behaviour = (s) => s.once('data', () => s.write(Buffer.from('SR\0\0\0\x08\0\0\0\0')));
    const e = await upstreamError(connectUpstream({ url: `postgresql://u@127.0.0.1:${port}/db?sslmode=prefer`, connectTimeoutMs: 2000 }));
    expect(e.message).toContain('unexpected data');
  });

  it('reports a password request when the URL has none, and garbage as a protocol failure', async () => {
    behaviour = (s) => s.once('data', () => s.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])));
    const e = await upstreamError(connectUpstream({ url: `postgresql://u@127.0.0.1:${port}/db?sslmode=disable`, connectTimeoutMs: 2000 }));
    expect(e.message).toContain('no password');
    behaviour = (s) => s.once('data', () => s.write(Buffer.from([0x52, 0, 0, 0, 2, 0, 0, 0, 3])));
    const g = await upstreamError(connectUpstream({ url: `postgresql://u@127.0.0.1:${port}/db?sslmode=disable`, connectTimeoutMs: 2000 }));
    expect(g.message).toContain('malformed message');
  });

  it('refuses a server that does not report standard_conforming_strings and client_encoding', async () => {
    // AuthenticationOk, ParameterStatus client_encoding=UTF8, ReadyForQuery: no standard_conforming_strings.
    const status = Buffer.from('client_encoding\0UTF8\0');
    const ps = Buffer.alloc(5);
    ps[0] = 0x53;
    ps.writeInt32BE(4 + status.length, 1);
    behaviour = (s) =>
      s.once('data', () => s.write(Buffer.concat([Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]), ps, status, Buffer.from([0x5a, 0, 0, 0, 5, 0x49])])));
    const e = await upstreamError(connectUpstream({ url: `postgresql://u@127.0.0.1:${port}/db?sslmode=disable`, connectTimeoutMs: 2000 }));
    expect(e.code).toBe('UNSAFE_PARSER_SESSION');
    expect(e.message).toContain('standard_conforming_strings');
  });

  it('refuses AuthenticationOk in the middle of SCRAM (server skipped proving itself)', async () => {
    behaviour = (s) =>
      s.once('data', () => {
        // AuthenticationSASL [SCRAM-SHA-256], then Ok as soon as the client answers.
        const mech = Buffer.from('SCRAM-SHA-256\0\0');
        const sasl = Buffer.alloc(9 + mech.length);
        sasl[0] = 0x52;
        sasl.writeInt32BE(8 + mech.length, 1);
        sasl.writeInt32BE(10, 5);
        mech.copy(sasl, 9);
        s.write(sasl);
        s.once('data', () => s.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])));
      });
    const e = await upstreamError(connectUpstream({ url: `postgresql://u:pw@127.0.0.1:${port}/db?sslmode=disable`, connectTimeoutMs: 2000 }));
    expect(e.message).toContain('without proving its identity');
  });
});

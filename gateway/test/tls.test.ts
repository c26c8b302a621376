// TLS termination with a real certificate: verified TLS clients (node-postgres, psql verify-full)
// get in, plaintext is refused with 28000 when the listener says so, and GSSAPI encryption is declined.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSqlstate, startTestGateway, type TestGateway } from './support/harness.ts';
import { psqlVia } from './support/run-tool.ts';

interface CertFiles {
  cert: string;
  key: string;
  pem: string;
}

function selfSignedCert(): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

/** Sends a GSSENCRequest, then an SSLRequest on the same connection; returns the two one-byte answers. */
function gssencThenSsl(port: number): Promise<string> {
  const request = (code: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(8, 0);
    b.writeInt32BE(code, 4);
    return b;
  };
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.on('error', reject);
    sock.on('connect', () => sock.write(request(80877104)));
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length === 1) sock.write(request(80877103));
      if (got.length >= 2) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('close', () => resolve(got));
  });
}

/** SSLRequest, then a TLS handshake with only these TLS 1.2 suites; the suite agreed, or the handshake error. */
function handshakeWith(port: number, ciphers: string): Promise<{ cipher: string } | { error: string }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', (e) => resolve({ error: e.message }));
    sock.on('connect', () => {
      const ssl = Buffer.alloc(8);
      ssl.writeInt32BE(8, 0);
      ssl.writeInt32BE(80877103, 4);
      sock.write(ssl);
    });
    sock.once('data', (d: Buffer) => {
      if (d.toString('latin1') !== 'S') return resolve({ error: `SSLRequest answered ${d.toString('latin1')}` });
      const tls = tlsConnect({ socket: sock, ciphers, maxVersion: 'TLSv1.2', rejectUnauthorized: false, servername: 'localhost' });
      tls.on('secureConnect', () => {
        resolve({ cipher: tls.getCipher().standardName });
        tls.destroy();
      });
      tls.on('error', (e) => resolve({ error: e.message }));
    });
  });
}

describe('TLS termination', () => {
  let certs: CertFiles;
  beforeAll(() => {
    certs = selfSignedCert();
  });

  describe('tls.mode require', () => {
    let t: TestGateway;
    let token: string;
    beforeAll(async () => {
      t = await startTestGateway({ tls: { mode: 'require', cert: certs.cert, key: certs.key } });
      token = await t.token('agent-tls', ['agents']);
    });
    afterAll(async () => t?.close());

    it('a node-postgres client verifying the certificate connects and queries', async () => {
      const c = await t.client(token, { ssl: { ca: certs.pem, servername: 'localhost', rejectUnauthorized: true } });
      expect((await c.query('SELECT count(*)::int AS n FROM clinical.visits')).rows[0].n).toBeGreaterThan(0);
      expect((await c.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 1')).rows).toEqual([{ ssn: '***' }]);
    });

    it('offers only forward-secret suites: a TLS 1.2 client offering RSA key exchange alone is refused, ECDHE is agreed', async () => {
      const refused = await handshakeWith(t.port, 'AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256');
      expect(refused).toHaveProperty('error');
      const agreed = await handshakeWith(t.port, 'ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384');
      expect(agreed).toEqual({ cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' });
    });

    it('a client that does not trust the certificate is not let in', async () => {
      const other = selfSignedCert();
      const state = await connectSqlstate({
        host: '127.0.0.1',
        port: t.port,
        user: 'agent',
        database: 'postgres',
        password: token,
        ssl: { ca: other.pem, servername: 'localhost', rejectUnauthorized: true },
      });
      expect(state).not.toBeNull();
    });

    it('a plaintext client is refused with 28000', async () => {
      const state = await connectSqlstate({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: token, ssl: false });
      expect(state).toBe('28000');
    });

    it('psql with sslmode=verify-full connects over TLS', async () => {
      const r = await psqlVia(t.port, token, ['-c', '\\conninfo', '-At', '-c', 'SELECT 40 + 2'], {
        conninfo: { host: 'localhost', sslmode: 'verify-full', sslrootcert: certs.cert },
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = r.stdout.toString('utf8');
      expect(out).toContain('SSL connection');
      expect(out).toMatch(/^42$/m);
    });

    it('answers a GSSENCRequest with N, and the connection can go on to TLS', async () => {
      expect(await gssencThenSsl(t.port)).toBe('NS');
    });

    it('psql with gssencmode=prefer still connects', async () => {
      const r = await psqlVia(t.port, token, ['-At', '-c', 'SELECT 7'], {
        conninfo: { host: 'localhost', sslmode: 'verify-full', sslrootcert: certs.cert, gssencmode: 'prefer' },
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.toString('utf8').trim()).toBe('7');
    });
  });

  describe('tls.mode allow with plaintext passwords never accepted', () => {
    let t: TestGateway;
    let token: string;
    beforeAll(async () => {
      t = await startTestGateway({ tls: { mode: 'allow', cert: certs.cert, key: certs.key }, plaintextPassword: 'never' });
      token = await t.token('agent-tls-allow', ['agents']);
    });
    afterAll(async () => t?.close());

    it('refuses a token over plaintext (even from loopback) with 28000', async () => {
      const state = await connectSqlstate({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: token, ssl: false });
      expect(state).toBe('28000');
      const r = await psqlVia(t.port, token, ['-c', 'SELECT 1']);
      expect(r.code).not.toBe(0);
      expect(r.stdout.length).toBe(0);
    });

    it('accepts the same token over TLS', async () => {
      const c = await t.client(token, { ssl: { ca: certs.pem, servername: 'localhost', rejectUnauthorized: true } });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const r = await psqlVia(t.port, token, ['-At', '-c', 'SELECT 2'], { conninfo: { host: 'localhost', sslmode: 'verify-full', sslrootcert: certs.cert } });
      expect(r.stderr).toBe('');
      expect(r.stdout.toString('utf8').trim()).toBe('2');
    });

    it('answers a GSSENCRequest with N', async () => {
      expect((await gssencThenSsl(t.port)).slice(0, 1)).toBe('N');
    });
  });
});

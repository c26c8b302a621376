// Live authentication and TLS checks against a throwaway PostgreSQL cluster (initdb into a temp dir,
// run as the postgres OS user): SCRAM-SHA-256, MD5 and cleartext via pg_hba, and sslmode verification.
// Skipped when not root or when the PostgreSQL 15 binaries are missing.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunThrowawayCluster, postgresUid, startThrowawayCluster, type ThrowawayCluster } from '../../../test/support/throwaway-cluster.ts';
import { isGatehouseError } from '../../errors.ts';
import { connectUpstream } from './connect.ts';
import { close, query } from './test-query.ts';

const canRun = canRunThrowawayCluster && existsSync('/usr/bin/openssl');

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, and a server certificate it signs for DNS:localhost only (so 127.0.0.1 fails verify-full). */
function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=gh-test-ca', '-days', '1'], dir);
  openssl(['req', ...ec, '-keyout', 'other-ca.key', '-x509', '-out', 'other-ca.crt', '-subj', '/CN=other', '-days', '1'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext'], dir);
}

describe.skipIf(!canRun)('connectUpstream against a throwaway cluster', () => {
  let cluster: ThrowawayCluster | undefined;
  let dir = '';
  let port = 0;

  beforeAll(async () => {
    cluster = await startThrowawayCluster({
      prefix: 'gh-upstream-',
      logFile: 'log',
      startTimeoutS: 20,
      settings: (clusterDir) => `-c ssl=on -c ssl_cert_file=${clusterDir}/server.crt -c ssl_key_file=${clusterDir}/server.key`,
      configure: (clusterDir, data) => {
        makeCertificates(clusterDir);
        for (const f of ['server.key', 'server.crt', 'ca.crt']) chownSync(join(clusterDir, f), postgresUid(), -1);
        execFileSync('chmod', ['600', join(clusterDir, 'server.key')]);
        writeFileSync(
          join(data, 'pg_hba.conf'),
          [
            'local all all trust',
            'host all postgres 127.0.0.1/32 trust',
            'host all gh_pw 127.0.0.1/32 password',
            'host all gh_md5 127.0.0.1/32 md5',
            'host all all 127.0.0.1/32 scram-sha-256',
            '',
          ].join('\n'),
        );
      },
    });
    ({ dir, port } = cluster);
    const admin = await connectUpstream({ url: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`, connectTimeoutMs: 5000 });
    await query(
      admin,
      "SET password_encryption='scram-sha-256'; CREATE ROLE gh_scram_test LOGIN PASSWORD 'x y%z'; CREATE ROLE gh_pw LOGIN PASSWORD 'clear pw'; " +
        "SET password_encryption='md5'; CREATE ROLE gh_md5 LOGIN PASSWORD 'md5 pw';",
    );
    close(admin);
  }, 30_000);

  afterAll(() => {
    cluster?.stop();
  });

  const url = (userinfo: string, query = 'sslmode=disable'): string =>
    `postgresql://${userinfo}@127.0.0.1:${port}/postgres?${query}`;

  it('authenticates with SCRAM-SHA-256 (percent-encoded password)', async () => {
    const conn = await connectUpstream({ url: url('gh_scram_test:x%20y%25z'), connectTimeoutMs: 5000 });
    const frames = await query(conn, 'select current_user');
    expect(frames.find((f) => f.type === 0x44)!.body.subarray(6).toString()).toBe('gh_scram_test');
    close(conn);
  });

  it('authenticates with MD5 and cleartext', async () => {
    close(await connectUpstream({ url: url('gh_md5:md5%20pw'), connectTimeoutMs: 5000 }));
    close(await connectUpstream({ url: url('gh_pw:clear%20pw'), connectTimeoutMs: 5000 }));
  });

  it('fails a wrong password with 28P01, without the password in the error', async () => {
    for (const user of ['gh_scram_test', 'gh_md5', 'gh_pw']) {
      try {
        await connectUpstream({ url: url(`${user}:Wr0ngPassw0rd`), connectTimeoutMs: 5000 });
        expect.fail('should not connect');
      } catch (e) {
        expect(isGatehouseError(e) && e.code).toBe('UPSTREAM_UNAVAILABLE');
        expect((e as Error).message).toContain('28P01');
        expect((e as Error).message).not.toContain('Wr0ngPassw0rd');
      }
    }
  });

  it('verifies the server certificate per sslmode', async () => {
    const ca = join(dir, 'ca.crt');
    const other = join(dir, 'other-ca.crt');
    const ok = async (u: string): Promise<void> => {
      const conn = await connectUpstream({ url: u, connectTimeoutMs: 5000 });
      expect(conn.tls).toBe(true);
      close(conn);
    };
    const fails = async (u: string, text: string): Promise<void> => {
      await expect(connectUpstream({ url: u, connectTimeoutMs: 5000 })).rejects.toThrow(text);
    };
    await ok(url('gh_scram_test:x%20y%25z', 'sslmode=require'));
    await ok(url('gh_scram_test:x%20y%25z', `sslmode=verify-ca&sslrootcert=${ca}`));
    await ok(`postgresql://gh_scram_test:x%20y%25z@localhost:${port}/postgres?sslmode=verify-full&sslrootcert=${ca}`);
    // The certificate names localhost, not 127.0.0.1.
    await fails(url('gh_scram_test:x%20y%25z', `sslmode=verify-full&sslrootcert=${ca}`), 'TLS handshake failed');
    await fails(url('gh_scram_test:x%20y%25z', `sslmode=verify-ca&sslrootcert=${other}`), 'TLS handshake failed');
    // require with a root certificate verifies the CA, as in libpq.
    await fails(url('gh_scram_test:x%20y%25z', `sslmode=require&sslrootcert=${other}`), 'TLS handshake failed');
    await fails(url('gh_scram_test:x%20y%25z', `sslmode=verify-ca&sslrootcert=${dir}/missing.crt`), 'cannot read');
  });
});

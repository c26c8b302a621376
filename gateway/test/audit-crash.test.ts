// Write-ahead, checked against PostgreSQL itself: a real `gatehouse serve` killed with SIGKILL under
// pgbench load (reads and writes) leaves an audit log holding a record for every statement the
// throwaway cluster's statement log (log_statement = all) shows it received from Gatehouse.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModule } from 'libpg-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactStatementText } from '../src/audit/redact.ts';
import { isUnusedTail } from '../src/audit/unused-tail.ts';
import { ensureDevKeys, mintDevToken } from '../src/auth/dev-keys.ts';
import { freeLoopbackPort } from '../src/bench/private-postgres.ts';
import { REFUSAL_QUERY } from '../src/pg/refusals-in-order.ts';
import { SEARCH_PATH_PROBE } from '../src/pg/search-path.ts';
import { REPO_ROOT } from './support/harness.ts';
import { runGatehouse, runTool } from './support/run-tool.ts';
import { canRunThrowawayCluster, startThrowawayCluster, type ThrowawayCluster } from './support/throwaway-cluster.ts';

describe.runIf(canRunThrowawayCluster)('SIGKILL under load', () => {
  let cluster: ThrowawayCluster | undefined;
  let dir = '';
  let pgPort = 0;
  let gwPort = 0;
  let gateway: ChildProcess | null = null;

  beforeAll(async () => {
    await loadModule();
    cluster = await startThrowawayCluster({
      prefix: 'gh-audit-crash-',
      logFile: 'postgres.log',
      startTimeoutS: 30,
      settings: () => "-c log_statement=all -c log_line_prefix='%a|' -c max_connections=40",
    });
    ({ dir, port: pgPort } = cluster);
    gwPort = await freeLoopbackPort();
    const init = await runTool('pgbench', ['-i', '-s', '1', '-q', `postgresql://postgres@127.0.0.1:${pgPort}/postgres`]);
    expect(init.code, init.stderr).toBe(0);
  }, 120_000);

  afterAll(() => {
    gateway?.kill('SIGKILL');
    cluster?.stop();
  });

  // A write-ahead ring beside the log (audit.ring_bytes 16 MiB), plain appends flushed themselves
  // (the default), and the file preallocated (audit.preallocate_bytes, 1 MiB and 64 MiB): a kill -9
  // leaves its zero tail. With the ring, a power loss is played too: the log is cut back to its first
  // record (flushed before the ring was first written; later flushes of the log are not waited for), and
  // a restarted gateway must append every record after it from the ring before it serves.
  it.each([
    ['0', '16777216'],
    ['0', 'default'],
    ['1048576', 'default'],
    ['67108864', 'default'],
  ])('every statement that reached PostgreSQL has its audit record, and the log verifies up to the cut (preallocate_bytes %s, ring_bytes %s)', { timeout: 240_000 }, async (preallocate, ring) => {
    const keys = await ensureDevKeys(join(dir, 'keys'));
    const keyDir = join(dir, `audit-key-${preallocate}-${ring}`);
    const keygen = await runGatehouse(['audit', 'keygen', '--out', keyDir]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const auditFile = join(dir, `audit-${preallocate}-${ring}.ndjson`);
    const config = join(dir, `gatehouse-${preallocate}-${ring}.yaml`);
    writeFileSync(
      config,
      [
        `listen: { host: 127.0.0.1, port: ${gwPort} }`,
        'tls: { mode: disable }',
        `auth: { issuer: "${keys.issuer}", audience: "${keys.audience}", algorithms: [ES256], jwks: { file: ${keys.jwksPath} }, plaintext_password: loopback }`,
        `upstream: { url: "postgresql://postgres@127.0.0.1:${pgPort}/postgres?sslmode=disable" }`,
        `policies: { engine: rego, directory: ${join(REPO_ROOT, 'policies', 'rego')} }`,
        `audit: { file: ${auditFile}, fsync: true, preallocate_bytes: ${preallocate},${ring === 'default' ? '' : ` ring_bytes: ${ring},`} signing_key: ${join(keyDir, 'audit-signing.key')}, checkpoint_interval_s: 1 }`,
        '',
      ].join('\n'),
    );
    const serve = async (): Promise<{ child: ChildProcess; log: () => string }> => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'gateway/bin/gatehouse.js'), 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      gateway = child;
      let log = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (b: Buffer) => {
          log += b.toString();
          if (log.includes('listening on')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`gatehouse serve exited (${code}): ${log}`)));
      });
      return { child, log: () => log };
    };
    const { child } = await serve();

    // tpcb-like: BEGIN, three UPDATEs, a SELECT, an INSERT, END per transaction; killed mid-run.
    const token = await mintDevToken({ keyDir: join(dir, 'keys'), subject: 'bench', groups: ['bench'], ttlSeconds: 600 });
    const bench = runTool('pgbench', ['-n', '-c', '8', '-j', '2', '-T', '60', '-M', 'simple', `postgresql://bench@127.0.0.1:${gwPort}/postgres?sslmode=disable`], {
      env: { PGPASSWORD: token },
    });
    // What PostgreSQL received through Gatehouse (its own probes are not client statements), in this run.
    const receivedInLog = (): string[] =>
      readFileSync(join(dir, 'postgres.log'), 'utf8')
        .split('\n')
        .flatMap((l) => {
          const m = /^gatehouse:pgbench\|LOG: {2}statement: (.*)$/.exec(l);
          // Gatehouse's lock prefix (enforce/lock-prefix.ts) is its own, not a client statement.
          const text = m?.[1]?.replace(/^(?:LOCK TABLE [^;]* NOWAIT; )+/, '');
          return text !== undefined && text !== SEARCH_PATH_PROBE && text !== REFUSAL_QUERY ? [text] : [];
        });
    const earlier = receivedInLog().length;
    const receivedSoFar = (): string[] => receivedInLog().slice(earlier);
    // Killed once the load is well under way (a count, not a time: the machine may be slow).
    for (let i = 0; i < 1000 && receivedSoFar().length <= 200; i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await bench; // fails: its connections are gone
    const received = receivedSoFar();
    expect(received.length).toBeGreaterThan(50);
    expect(received.some((s) => s.startsWith('UPDATE'))).toBe(true);

    if (ring !== 'default') {
      // The power goes too: the disk keeps the ring's flushed frames and the log only as far as its first record.
      const killed = readFileSync(auditFile, 'utf8');
      truncateSync(auditFile, killed.indexOf('\n') + 1);
      const restarted = await serve();
      expect(restarted.log()).toMatch(/records after it were recovered from its write-ahead ring/);
      const stopped = new Promise((r) => restarted.child.once('exit', r));
      restarted.child.kill('SIGTERM');
      await stopped;
      // Everything the killed gateway wrote is back, in order, before the restarted one's own records.
      expect(readFileSync(auditFile, 'utf8').startsWith(killed)).toBe(true);
    }

    const lines = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !isUnusedTail(l));
    if (preallocate !== '0') expect(readFileSync(auditFile).includes(0)).toBe(true); // the zero tail a kill -9 leaves
    if (preallocate === '67108864') expect(statSync(auditFile).size).toBeGreaterThanOrEqual(64 << 20); // preallocated a whole step ahead
    const audited = new Map<string, number>();
    for (const l of lines) {
      const r = JSON.parse(l) as { type: string; statement?: string; decision?: string };
      if (r.type === 'statement' && r.decision === 'allow') audited.set(r.statement!, (audited.get(r.statement!) ?? 0) + 1);
    }
    const needed = new Map<string, number>();
    for (const s of received) {
      // Gatehouse records each statement of a query string without its terminating semicolon.
      const key = redactStatementText(s.replace(/;\s*$/, ''), true);
      needed.set(key, (needed.get(key) ?? 0) + 1);
    }
    const missing = [...needed].filter(([text, n]) => (audited.get(text) ?? 0) < n).map(([text, n]) => `${text}: ${n} received, ${audited.get(text) ?? 0} audited`);
    expect(missing).toEqual([]);

    // The chain is whole up to the cut; only the records after the last checkpoint are unsigned.
    const verify = await runGatehouse(['audit', 'verify', '--key', join(keyDir, 'audit-signing.pub.pem'), '--json', auditFile]);
    const report = JSON.parse(verify.stdout) as { status: string; findings: Array<{ kind: string }> };
    expect(report.findings.filter((f) => f.kind !== 'unprotected')).toEqual([]);
    expect([0, 3]).toContain(verify.code);
  });
});

// The audit commands read the PostgreSQL audit table (sink postgres): two real gateways write one
// table, each its own chain, real pg clients run statements through both, and `gatehouse audit
// query --postgres` lists both instances' statements merged in time order with its filters (instance,
// time range, decision) asked of PostgreSQL, `audit disclosures --postgres --subject` lists the
// accesses to a seeded patient made through either instance, and `audit explain --postgres`
// reproduces decisions (a denial, a read under a mask decision reading some masked columns or none)
// from the policy commit they name. The table source itself, on hand-written rows: chains merged by
// time across pages, and --until keeping the outcomes written after it.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Disclosure } from '../src/audit/disclosures.ts';
import { auditTable, auditTableDdl } from '../src/audit/postgres-table.ts';
import { NO_FILTER, queryAuditRecords, type AccessRow } from '../src/audit/query.ts';
import { auditTableSource } from '../src/audit/record-source-postgres.ts';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../src/auth/dev-keys.ts';
import { main } from '../src/cli/main.ts';
import { configFromObject } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { ensureClinicDatabase, ensureDatabase, TEST_DB } from './support/harness.ts';
import { createTestPolicyRepo, git } from './support/policy-repo.ts';
import { runGatehouse } from './support/run-tool.ts';

const TABLE = `audit_cmd.log_${randomBytes(4).toString('hex')}`;
let auditUrl: string;
let workDir: string;
let keyDir: string;
let subjectKey: string;
let repo: string;
let commit: string;
/** A patient read through both gateways, and another read through one. */
let P: number;
let Q: number;
/** Time between the statements run through gw-a first and those run afterwards. */
let midpoint: string;

function rowsOf(stdout: string): AccessRow[] {
  return stdout.trim() === '' ? [] : stdout.trim().split('\n').map((l) => JSON.parse(l) as AccessRow);
}

async function startInstance(instance: string, upstream: string, issuer: { issuer: string; audience: string; jwksPath: string }): Promise<RunningGateway> {
  const dir = mkdtempSync(join(workDir, `${instance}-`));
  const config = configFromObject(
    {
      listen: { host: '127.0.0.1', port: 0 },
      auth: { issuer: issuer.issuer, audience: issuer.audience, algorithms: [DEV_ALGORITHM], jwks: { file: issuer.jwksPath } },
      upstream: { url: upstream, pass_database: false },
      policies: { engine: 'cedar', git: { url: repo, poll_interval_seconds: 0 }, eval_timeout_ms: 5000 },
      audit: {
        sink: 'postgres',
        postgres_url: auditUrl,
        postgres_table: TABLE,
        instance,
        phi_tables: { 'clinical.patients': { subject: 'id' } },
        subject_key: subjectKey,
      },
    },
    dir,
  );
  return startGateway(config);
}

async function through(gw: RunningGateway, subject: string, groups: string[]): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'agent', database: 'postgres', password: await mintDevToken({ keyDir, subject, groups, ttlSeconds: 3600 }) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

const source = (): string[] => ['--postgres', auditUrl, '--postgres-table', TABLE];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-audit-cmd-'));
  keyDir = join(workDir, 'keys');
  const keys = await ensureDevKeys(keyDir);
  subjectKey = join(workDir, 'subject.key');
  writeFileSync(subjectKey, randomBytes(32));
  repo = createTestPolicyRepo();
  commit = git(repo, 'rev-parse', 'HEAD');
  auditUrl = await ensureDatabase(`${TEST_DB}_audit_cmd`);
  const out = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    expect(await main(['audit', 'init-db', '--postgres', auditUrl, '--postgres-table', TABLE])).toBe(0);
  } finally {
    process.stdout.write = out;
  }
  const upstream = await ensureClinicDatabase();
  const direct = new pg.Client({ connectionString: upstream });
  await direct.connect();
  const ids = (await direct.query('SELECT id FROM clinical.patients ORDER BY id LIMIT 2')).rows.map((r) => r.id as number);
  await direct.end();
  [P, Q] = ids as [number, number];

  const a = await startInstance('gw-a', upstream, keys);
  const b = await startInstance('gw-b', upstream, keys);
  try {
    const ca = await through(a, 'agent-a', ['agents']);
    const cb = await through(b, 'agent-b', ['agents']);
    await ca.query('SELECT id AS pa1, first_name FROM clinical.patients WHERE id = $1', [P]);
    expect(await ca.query('SELECT rolname AS da1 FROM pg_authid').catch((e: { code?: string }) => e.code)).toBe('42501');
    await new Promise((r) => setTimeout(r, 20)); // a clear gap in record time
    midpoint = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await cb.query('SELECT id AS pb1, first_name FROM clinical.patients WHERE id = $1', [P]);
    await cb.query(`SELECT id AS qb1 FROM clinical.patients WHERE id = ${Q}`);
    await ca.query('SELECT count(*) AS va2 FROM clinical.visits');
    await ca.end();
    await cb.end();
  } finally {
    await a.close();
    await b.close();
  }
}, 240_000);

afterAll(async () => {
  const admin = new pg.Client({ connectionString: auditUrl });
  await admin.connect().then(() => admin.query(`DROP TABLE IF EXISTS ${TABLE}`)).catch(() => undefined);
  await admin.end().catch(() => undefined);
});

describe('audit commands on the PostgreSQL audit table', () => {
  it('`audit query --postgres` lists both instances in time order, with instance, time and decision filters', async () => {
    const all = await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source()]);
    expect(all.code, all.stderr).toBe(0);
    const rows = rowsOf(all.stdout);
    const marked = (r: AccessRow): string | undefined => /\b(pa1|da1|pb1|qb1|va2)\b/.exec(r.statement)?.[1];
    expect(rows.map(marked).filter((m) => m !== undefined)).toEqual(['pa1', 'da1', 'pb1', 'qb1', 'va2']);
    const times = rows.map((r) => Date.parse(r.time));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    const where = (m: string): string => rows.find((r) => marked(r) === m)!.at;
    expect(where('pa1')).toMatch(new RegExp(`^${TABLE.replace('.', '\\.')}\\[gw-a\\]:\\d+$`));
    expect(where('pb1')).toMatch(/\[gw-b\]:\d+$/);
    // Each statement carries its outcome, joined from the same instance's chain.
    expect(rows.find((r) => marked(r) === 'pb1')!.outcome).toMatchObject({ status: 'ok', rows: 1 });
    expect(rows.find((r) => marked(r) === 'da1')).toMatchObject({ decision: 'deny', outcome: { status: 'refused', sqlstate: '42501' } });

    const onlyB = rowsOf((await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source(), '--instance', 'gw-b'])).stdout);
    expect(onlyB.length).toBeGreaterThan(0);
    expect(onlyB.every((r) => r.at.includes('[gw-b]'))).toBe(true);
    expect(onlyB.map(marked).filter((m) => m !== undefined)).toEqual(['pb1', 'qb1']);

    const later = rowsOf((await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source(), '--since', midpoint])).stdout);
    expect(later.map(marked).filter((m) => m !== undefined)).toEqual(['pb1', 'qb1', 'va2']);
    // --until bounds the statements; their outcomes, written later, are still joined.
    const earlier = rowsOf((await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source(), '--until', midpoint])).stdout);
    expect(earlier.map(marked).filter((m) => m !== undefined)).toEqual(['pa1', 'da1']);
    expect(earlier.every((r) => r.outcome !== null)).toBe(true);

    const denied = await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source(), '--decision', 'deny', '--identity', 'agent-a']);
    expect(rowsOf(denied.stdout).map(marked)).toEqual(['da1']);
    // The table format names where each record is.
    const table = await runGatehouse(['audit', 'query', ...source(), '--identity', 'agent-b']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('agent-b');
  });

  it('`audit disclosures --postgres --subject` lists the accesses to one patient through either instance', async () => {
    const run = await runGatehouse(['audit', 'disclosures', '--subject', String(P), '--key', subjectKey, '--format', 'ndjson', ...source()]);
    expect(run.code, run.stderr).toBe(0);
    const listed = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Disclosure);
    expect(listed.map((d) => [d.identity?.subject, d.at.replace(/:\d+$/, '').replace(/^.*\[/, '[')])).toEqual([
      ['agent-a', '[gw-a]'],
      ['agent-b', '[gw-b]'],
    ]);
    expect(listed.every((d) => d.match === 'listed' && d.tables.includes('clinical.patients') && d.revision === commit)).toBe(true);
    const onlyA = await runGatehouse(['audit', 'disclosures', '--subject', String(P), '--key', subjectKey, '--format', 'ndjson', ...source(), '--instance', 'gw-a']);
    expect(onlyA.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Disclosure).identity?.subject)).toEqual(['agent-a']);
    const q = await runGatehouse(['audit', 'disclosures', '--subject', String(Q), '--key', subjectKey, '--format', 'ndjson', ...source()]);
    expect(q.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Disclosure).identity?.subject)).toEqual(['agent-b']);
    expect((await runGatehouse(['audit', 'disclosures', '--subject', '999999', '--key', subjectKey, ...source()])).code).toBe(1);
  });

  it('`audit explain --postgres ID` reproduces a decision recorded by either instance', { timeout: 300_000 }, async () => {
    const rows = rowsOf((await runGatehouse(['audit', 'query', '--format', 'ndjson', ...source()])).stdout);
    const denied = rows.find((r) => r.statement.includes('da1'))!;
    // A read through gw-b of the id alone: the policy masks other columns of the table, none read.
    const read = rows.find((r) => r.statement.includes('qb1'))!;
    // A read of one masked column (first_name) of a table the policy masks more columns of.
    const masked = rows.find((r) => r.statement.includes('pb1'))!;
    expect(masked).toMatchObject({ decision: 'mask', masked: ['clinical.patients.first_name'] });
    const cacheDir = join(workDir, 'cache');
    for (const r of [denied, read, masked]) {
      const run = await runGatehouse(['audit', 'explain', r.decision_id, '--repo', repo, '--cache-dir', cacheDir, '--json', ...source()]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const e = JSON.parse(run.stdout) as { record: { at: string; revision: string }; evaluated: { action: string }; mismatches: string[] };
      expect(e.record).toMatchObject({ at: r.at, revision: commit });
      expect(e.mismatches).toEqual([]);
    }
    expect(read.at).toContain('[gw-b]');
    const missing = await runGatehouse(['audit', 'explain', '00000000-0000-4000-8000-000000000000', '--repo', repo, '--cache-dir', cacheDir, ...source()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no statement record with decision_id 00000000-0000-4000-8000-000000000000 in ${TABLE}`);
  });

  it('usage errors: FILEs and --postgres together, --instance without --postgres, an unreachable database', async () => {
    const both = await runGatehouse(['audit', 'query', ...source(), 'audit.ndjson']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
    const alone = await runGatehouse(['audit', 'disclosures', '--subject', '1', '--key', subjectKey, '--instance', 'gw-a', 'audit.ndjson']);
    expect(alone.code).toBe(2);
    const down = await runGatehouse(['audit', 'query', '--postgres', 'postgresql://postgres@127.0.0.1:1/none']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot connect to the database holding the audit table');
    // verify takes the same spelling (and --table, its earlier one; not both).
    const verified = await runGatehouse(['audit', 'verify', ...source()]);
    expect(verified.stdout).toContain(`2 instance chain(s) in ${TABLE}`);
    expect((await runGatehouse(['audit', 'verify', ...source(), '--table', TABLE])).code).toBe(2);
    const noTable = await runGatehouse(['audit', 'query', '--postgres', auditUrl, '--postgres-table', 'audit_cmd.missing']);
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toContain('cannot read the audit table audit_cmd.missing');
  });

  it('the table source merges chains by time a page at a time, and --until keeps the outcomes written after it', async () => {
    const name = `${TABLE}_merge`;
    const admin = new pg.Client({ connectionString: auditUrl });
    await admin.connect();
    try {
      for (const sql of auditTableDdl(auditTable(name))) await admin.query(sql);
      const at = (s: number): string => new Date(Date.UTC(2026, 11, 1, 10, 0, s)).toISOString();
      const statement = (id: string, time: string) => ({ v: 1, type: 'statement', time, decision_id: id, session_id: 's', identity: { subject: id.slice(0, 1), issuer: 'i', name: null, groups: [], roles: [] }, client_address: '', application_name: '', statement: 'SELECT 1', fingerprint: 'f', input: null, decision: 'allow', reason: 'r', policies: [], masks: [], engine: 'rego', revision: 'dir:x' });
      const outcome = (id: string, time: string) => ({ v: 1, type: 'outcome', time, decision_id: id, session_id: 's', identity: null, revision: 'dir:x', outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } });
      // Chain a: a1 at 1 s (its outcome only at 9 s), a2 at 4 s; chain b: b1 at 2 s, b2 at 3 s, b3 at 6 s.
      const rows: Array<[string, number, Record<string, unknown>]> = [
        ['a', 1, statement('a1', at(1))], ['a', 2, statement('a2', at(4))], ['a', 3, outcome('a2', at(4))], ['a', 4, outcome('a1', at(9))],
        ['b', 1, statement('b1', at(2))], ['b', 2, outcome('b1', at(2))], ['b', 3, statement('b2', at(3))], ['b', 4, outcome('b2', at(3))], ['b', 5, statement('b3', at(6))], ['b', 6, outcome('b3', at(6))],
      ];
      for (const [instance, seq, r] of rows) {
        await admin.query(`INSERT INTO ${name} (instance, seq, type, time, decision_id, line) VALUES ($1, $2, $3, $4, $5, $6)`, [instance, seq, r['type'], r['time'], r['decision_id'], JSON.stringify({ ...r, seq })]);
      }
      const query = async (filter: Partial<typeof NO_FILTER>, instances?: string[]): Promise<Array<[string, string | null]>> => {
        const out: Array<[string, string | null]> = [];
        const source = auditTableSource({ url: auditUrl, table: name, pageSize: 2, ...(instances ? { instances } : {}) });
        for await (const r of queryAuditRecords(source, { ...NO_FILTER, ...filter })) out.push([r.decision_id, r.outcome?.status ?? null]);
        return out;
      };
      expect(await query({})).toEqual([['a1', 'ok'], ['b1', 'ok'], ['b2', 'ok'], ['a2', 'ok'], ['b3', 'ok']]);
      expect(await query({ until: new Date(at(4)) })).toEqual([['a1', 'ok'], ['b1', 'ok'], ['b2', 'ok']]);
      expect(await query({ since: new Date(at(3)), until: new Date(at(5)) })).toEqual([['b2', 'ok'], ['a2', 'ok']]);
      expect(await query({}, ['b'])).toEqual([['b1', 'ok'], ['b2', 'ok'], ['b3', 'ok']]);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
      await admin.end();
    }
  });
});

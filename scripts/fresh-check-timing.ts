// Times what a write of an identity under a mask adds since R17a-3 (enforce/fresh-catalog.ts): the
// catalog fingerprint of the relations it reaches (pg/relation-structure.ts readStructure, one query),
// and, once per statement and snapshot (cached), the horizon probe (the policy asked how the identity
// reads every relation). Needs a database with many tables (make one with --make N). Usage:
//   node --import tsx scripts/fresh-check-timing.ts --db gh_fresh_timing [--make 1002] [--runs 100]
import os from 'node:os';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { readStructure, RELATION_STRUCTURE } from '../gateway/src/pg/relation-structure.ts';
import { loadPolicyEngine } from '../gateway/src/policy/load.ts';
import { loadSqlParser } from '../gateway/src/sql/parser.ts';
import { identityHorizonBase, identityHorizonInput } from '../gateway/src/enforce/identity-horizon.ts';
import type { EngineKind } from '../gateway/src/policy/types.ts';

const { values } = parseArgs({ options: { db: { type: 'string', default: 'gh_fresh_timing' }, make: { type: 'string' }, runs: { type: 'string', default: '100' } } });
const runs = Number(values.runs);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const server = process.env['GATEHOUSE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432';

if (values.make !== undefined) {
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${values.db}`);
  await admin.query(`CREATE DATABASE ${values.db}`);
  await admin.end();
  const c = new pg.Client({ connectionString: `${server}/${values.db}` });
  await c.connect();
  const sql = ['CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;'];
  for (let i = 0; i < Number(values.make); i++) {
    sql.push(`CREATE TABLE t${i} (id integer PRIMARY KEY, a text, b text DEFAULT 'x', c integer${i > 0 ? `, ref integer REFERENCES t${i - 1}(id)` : ''});`, `CREATE INDEX ON t${i}(a);`);
    if (i % 10 === 0) sql.push(`CREATE TRIGGER tr${i} BEFORE INSERT ON t${i} FOR EACH ROW EXECUTE FUNCTION tf();`);
    if (i % 20 === 0) sql.push(`CREATE VIEW v${i} AS SELECT id, a FROM t${i};`);
  }
  await c.query(sql.join('\n'));
  await c.end();
}

const stats = (ms: number[]): string => {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): string => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(3);
  return `median ${at(0.5)} ms, p90 ${at(0.9)} ms (${s.length} runs)`;
};
async function time(f: () => unknown, n: number): Promise<number[]> {
  for (let i = 0; i < 5; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const c = new pg.Client({ connectionString: `${server}/${values.db}` });
await c.connect();
const tables = (await c.query<{ q: string }>(`SELECT n.nspname || '.' || c.relname AS q FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1`)).rows.map((r) => r.q);
const target = (await c.query<{ a: number; b: number }>("SELECT 't500'::regclass::oid::int AS a, 't499'::regclass::oid::int AS b")).rows[0]!;
console.log(`${tables.length} relations outside the system schemas`);
console.log(`select 1 (round trip):                     ${stats(await time(() => c.query('SELECT 1'), runs))}`);
console.log(`readStructure, a written table and its FK: ${stats(await time(() => readStructure(c, [target.a, target.b]), runs))}`);
console.log(`RELATION_STRUCTURE (with each snapshot):   ${stats(await time(() => c.query(RELATION_STRUCTURE), Math.max(5, runs / 10)))}`);
await c.end();

await loadSqlParser();
const buildDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-fresh-timing-'));
const base = identityHorizonBase(
  { subject: 'agent', issuer: 'gatehouse', groups: ['agents'], roles: [], name: null },
  { id: 's', clientAddress: '', applicationName: '', database: values.db, user: '', tls: false },
);
const horizon = identityHorizonInput(base, { tables, digest: 'timing' });
for (const kind of ['rego', 'cedar'] as EngineKind[]) {
  const engine = await loadPolicyEngine({ engine: kind, directory: path.join(root, 'policies', kind), buildDir });
  console.log(`${kind} identity horizon (${tables.length} relations, uncached, once per identity): ${stats(await time(() => engine.evaluate(horizon), Math.max(10, runs / 5)))}`);
}

// Measures analyzeQuery's per-statement cost with and without the cache:
//   npx tsx gateway/src/sql/analyze-bench.ts
import { fingerprintSync, normalizeSync, parseSync } from 'libpg-query';
import { asNode } from './ast.ts';
import { FactsWalker } from './walk.ts';
import { analyzeQuery, analyzeQueryUncached, clearAnalyzeCache, loadSqlParser } from './parser.ts';

const STATEMENTS = [
  'SELECT 1',
  'SELECT abalance FROM pgbench_accounts WHERE aid = 48213',
  "SELECT * FROM patients p JOIN visits v ON v.patient_id = p.id WHERE p.ssn = '1' ORDER BY v.at DESC LIMIT 10",
  "UPDATE patients SET name = 'x' WHERE id = 42 RETURNING id",
  "INSERT INTO visits (patient_id, at, note) VALUES (1, now(), 'checkup')",
  'WITH recent AS (SELECT patient_id, max(at) AS at FROM visits GROUP BY 1) SELECT p.name, r.at FROM patients p JOIN recent r ON r.patient_id = p.id',
  "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(patients)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3",
];

function perCall(fn: (sql: string) => unknown, rounds: number): number[] {
  return STATEMENTS.map((sql) => {
    for (let i = 0; i < 200; i++) fn(sql); // warm-up
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) fn(sql);
    return Number(process.hrtime.bigint() - start) / rounds / 1000;
  });
}

await loadSqlParser();
const trees = new Map(STATEMENTS.map((s) => [s, asNode((parseSync(s) as { stmts: { stmt: unknown }[] }).stmts[0]?.stmt)]));
const rows = {
  'facts walk only (parsed AST)': perCall((s) => new FactsWalker(['public']).walkStatement(trees.get(s)!), 20_000),
  'parseSync only': perCall((s) => parseSync(s), 2_000),
  'parse+fingerprint+normalize': perCall((s) => [parseSync(s), fingerprintSync(s), normalizeSync(s)], 2_000),
  'analyzeQuery uncached': perCall((s) => analyzeQueryUncached(s), 2_000),
  'analyzeQuery cached (hit)': perCall((s) => analyzeQuery(s), 200_000),
};
clearAnalyzeCache();
console.log('µs per statement (statements: ' + STATEMENTS.map((_, i) => `#${i + 1}`).join(' ') + ')');
for (const [name, us] of Object.entries(rows)) {
  const mean = us.reduce((a, b) => a + b, 0) / us.length;
  console.log(`${name.padEnd(30)} ${us.map((u) => u.toFixed(2).padStart(7)).join(' ')}   mean ${mean.toFixed(2)}`);
}

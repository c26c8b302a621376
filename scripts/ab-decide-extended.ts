// A/B, in one process, of the decision work of one `pgbench -S -M extended` transaction as two
// checkouts do it: the Parse decided (unbound, not audited) and the Execute decided (its $1 bound,
// audited), through enforce/decision-point.ts with the example Rego policies evaluated in-process and
// the shared decision cache, against a catalog holding pgbench_accounts. `--mode simple` decides the
// simple Query instead (a new literal each time); `--engine cedar` uses the example Cedar policies. The audit sink only counts the records: the records'
// own cost is scripts/ab-record-path.ts's. Rounds alternate A and B; prints median and least CPU µs
// (process user + system) per transaction.
// Usage: node --import tsx scripts/ab-decide-extended.ts --a /path/to/baseline --b /path/to/branch [--rounds 9] [--n 20000] [--mode extended|simple] [--engine rego|cedar]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingRounds, printMicros } from './ab-rounds.ts';

const { values } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string' }, rounds: { type: 'string', default: '9' }, n: { type: 'string', default: '20000' }, mode: { type: 'string', default: 'extended' }, engine: { type: 'string', default: 'rego' } },
});
if (values.a === undefined || values.b === undefined) throw new Error('usage: --a <checkout> --b <checkout> [--rounds N] [--n N] [--mode extended|simple]');
const mode = values.mode;
if (mode !== 'extended' && mode !== 'simple') throw new Error('--mode is extended or simple');
const engineKind = values.engine;
if (engineKind !== 'rego' && engineKind !== 'cedar') throw new Error('--engine is rego or cedar');

const PREPARED = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';

async function pathOf(root: string): Promise<() => void> {
  const src = (p: string): Promise<any> => import(path.join(path.resolve(root), 'gateway/src', p));
  const { loadSqlParser } = await src('sql/parser.ts');
  await loadSqlParser();
  const { loadPolicyEngine } = await src('policy/load.ts');
  const { decideQuery } = await src('enforce/decision-point.ts');
  // The context the bench's decision step builds: the catalog holds pgbench_accounts (both checkouts need
  // bench/pgbench-decision-timing.ts, on main since 624b70e).
  const { pgbenchDecisionContext } = await src('bench/pgbench-decision-timing.ts');
  const engine = await loadPolicyEngine({ engine: engineKind, directory: path.join(path.resolve(root), 'policies', engineKind), buildDir: mkdtempSync(path.join(os.tmpdir(), 'gatehouse-ab-decide-')) });
  let records = 0;
  const ctx = pgbenchDecisionContext(engine, {
    write: () => void records++,
    writeSoon: () => void records++,
    whenDurable: (done: (e: Error | null) => void) => done(null),
    close: () => Promise.resolve(),
  });
  let n = 0;
  const expect = (d: any): void => {
    if (d instanceof Promise || d.kind !== 'forward') throw new Error(`${root}: expected a decision made at once to forward, got ${d instanceof Promise ? 'a promise' : d.kind}`);
  };
  return mode === 'simple'
    ? () => expect(decideQuery(ctx, `SELECT abalance FROM pgbench_accounts WHERE aid = ${(n++ % 100000) + 1};`, 'simple'))
    : () => {
        expect(decideQuery(ctx, PREPARED, 'extended', { auditForwarded: false, parameters: 'unbound' }));
        expect(decideQuery(ctx, PREPARED, 'extended', { auditForwarded: true, parameters: [Buffer.from(String((n++ % 100000) + 1))] }));
      };
}

const times = alternatingRounds({ A: await pathOf(values.a), B: await pathOf(values.b) }, Number(values.rounds), Number(values.n), 2000);
console.log(`${mode}, ${engineKind}: decision work per pgbench -S transaction`);
printMicros(times, 'per transaction');

// A/B, in one process, of the decision work of one `pgbench -S -M extended` transaction as two
// checkouts do it: the Parse decided (unbound, not audited) and the Execute decided (its $1 bound,
// audited), through enforce/decision-point.ts with the example Rego policies evaluated in-process and
// the shared decision cache, against a catalog holding pgbench_accounts. `--mode simple` decides the
// simple Query instead (a new literal each time). The audit sink only counts the records: the records'
// own cost is scripts/ab-record-path.ts's. Rounds alternate A and B; prints median and least CPU µs
// (process user + system) per transaction.
// Usage: node --import tsx scripts/ab-decide-extended.ts --a /path/to/baseline --b /path/to/branch [--rounds 9] [--n 20000] [--mode extended|simple]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingRounds, printMicros } from './ab-rounds.ts';

const { values } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string' }, rounds: { type: 'string', default: '9' }, n: { type: 'string', default: '20000' }, mode: { type: 'string', default: 'extended' } },
});
if (values.a === undefined || values.b === undefined) throw new Error('usage: --a <checkout> --b <checkout> [--rounds N] [--n N] [--mode extended|simple]');
const mode = values.mode;
if (mode !== 'extended' && mode !== 'simple') throw new Error('--mode is extended or simple');

const PREPARED = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';

async function pathOf(root: string): Promise<() => void> {
  const src = (p: string): Promise<any> => import(path.join(path.resolve(root), 'gateway/src', p));
  const { loadSqlParser } = await src('sql/parser.ts');
  await loadSqlParser();
  const { loadPolicyEngine } = await src('policy/load.ts');
  const { DecisionCache } = await src('enforce/decision-cache.ts');
  const { decideQuery } = await src('enforce/decision-point.ts');
  const { RelationCatalog } = await src('enforce/relation-catalog.ts');
  const { RoutineCatalog } = await src('enforce/routine-catalog.ts');
  const engine = await loadPolicyEngine({ engine: 'rego', directory: path.join(path.resolve(root), 'policies/rego'), buildDir: mkdtempSync(path.join(os.tmpdir(), 'gatehouse-ab-decide-')) });
  const column = (name: string, attnum: number, type: string, typeOid: number, category: string) => ({ name, attnum, type, typeOid, category });
  const relations = new RelationCatalog(
    [
      {
        oid: 16400,
        schema: 'public',
        name: 'pgbench_accounts',
        qualified: 'public.pgbench_accounts',
        kind: 'table',
        persistence: 'permanent',
        columns: [column('aid', 1, 'integer', 23, 'N'), column('bid', 2, 'integer', 23, 'N'), column('abalance', 3, 'integer', 23, 'N'), column('filler', 4, 'character', 1042, 'S')],
        reads: [],
        ancestors: [],
        keys: [{ kind: 'unique', name: 'pgbench_accounts_pkey', columns: ['aid'] }],
        lockable: 'read',
      },
    ],
    { hash: true },
  );
  const routines = new RoutineCatalog([{ kind: 'operator', schema: 'pg_catalog', name: '=', harmless: true, retset: false }]);
  let records = 0;
  const ctx = {
    identity: Object.freeze({ subject: 'bench', issuer: 'https://gatehouse.dev.invalid', groups: Object.freeze(['bench']), roles: Object.freeze([]), name: null }),
    session: { id: '0a5e22a3-2e8f-4715-b90e-9be58353fe75', clientAddress: '127.0.0.1', applicationName: 'pgbench', database: 'gatehouse_bench', user: 'bench', tls: false },
    searchPath: ['public'],
    engines: { current: () => engine },
    audit: { write: () => void records++, writeSoon: () => void records++, whenDurable: () => Promise.resolve(), close: () => Promise.resolve() },
    evalTimeoutMs: 5000,
    cache: new DecisionCache(),
    routines: { current: () => routines },
    relations: { current: () => relations, refreshSoon: () => undefined },
  };
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
console.log(`${mode}: decision work per pgbench -S transaction`);
printMicros(times, 'per transaction');

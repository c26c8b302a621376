// A/B, in one process, of the per-statement work around a cached decision that does not depend on
// the machine's load: policy input, decision-cache key, and the statement and outcome audit records
// (redacted, chained, hashed) as the gateway makes them, with the code of two checkouts. Rounds
// alternate A and B; prints the median and least CPU µs (process user + system) per statement of each.
// Usage: node --import tsx scripts/ab-record-path.ts --a /path/to/baseline --b /path/to/branch [--rounds 7] [--n 20000]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingRounds, printMicros } from './ab-rounds.ts';

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string' }, rounds: { type: 'string', default: '7' }, n: { type: 'string', default: '20000' } } });
if (values.a === undefined || values.b === undefined) throw new Error('usage: --a <checkout> --b <checkout>');

async function pathOf(root: string): Promise<() => void> {
  const src = (p: string): Promise<any> => import(path.join(path.resolve(root), 'gateway/src', p));
  const { loadSqlParser, analyzeQuery } = await src('sql/parser.ts');
  await loadSqlParser();
  const { buildPolicyInput } = await src('policy/input.ts');
  const { regoInputReads } = await src('policy/input-reads.ts');
  const { inputKey } = await src('policy/input-reads.ts');
  const { redactRecord, redactStatementText } = await src('audit/redact.ts');
  const { chainLine, EMPTY_CHAIN } = await src('audit/chain.ts');
  // Where the checkout has it, the record carries its redacted text to redactRecord, as statement-audit.ts
  // does (a checkout without it gets a symbol nothing reads, so both build records of one form).
  const REDACTED: symbol = await src('audit/redacted-statement.ts').then(
    (m) => m.REDACTED_STATEMENT as symbol,
    () => Symbol('not read'),
  );
  const reads = regoInputReads(['input.identity.groups input.statement.tables_read input.statement.kind input.session.database']);
  const identity = { subject: 'bench', issuer: 'https://gatehouse.dev.invalid', groups: ['bench'], roles: [], name: null };
  const session = { id: '0a5e22a3-2e8f-4715-b90e-9be58353fe75', clientAddress: '127.0.0.1', applicationName: 'pgbench', database: 'gatehouse_bench', user: 'bench', tls: false };
  const policies = ['bench-read-write', 'statement-data'];
  let at = EMPTY_CHAIN;
  let n = 0;
  return () => {
    const text = `SELECT abalance FROM pgbench_accounts WHERE aid = ${n++ % 100000};`;
    const parsed = analyzeQuery(text).statements[0];
    const { facts, shape } = parsed;
    const input = buildPolicyInput({ identity, session, text, protocol: 'simple', facts });
    inputKey(input, reads);
    const id = `d-${n}`;
    const redacted = redactStatementText(text, true, shape);
    const statement = redactRecord({
      v: 1, type: 'statement', time: new Date().toISOString(), decision_id: id, session_id: session.id, identity: input.identity,
      client_address: session.clientAddress, application_name: session.applicationName, statement: text, [REDACTED]: redacted,
      fingerprint: facts.fingerprint, input, decision: 'allow', reason: 'pgbench tables; statement reads or writes tables', policies, masks: [], engine: 'rego', revision: 'dir:24db0dcdf376946ec439193f4bd382e0ed630720e7c7a3fc6ba99bcee512a237',
    });
    at = chainLine(statement, at).next;
    const o = { v: 1, type: 'outcome', time: new Date().toISOString(), decision_id: id, session_id: session.id, identity: input.identity, revision: 'dir:24db', outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } };
    at = chainLine(redactRecord(o), at).next;
  };
}

printMicros(alternatingRounds({ A: await pathOf(values.a), B: await pathOf(values.b) }, Number(values.rounds), Number(values.n), 2000), 'per statement');

// Where the time of one simple Query of many statements goes, with the real modules (issue 11 item 3):
// parse (analyzeQuery, uncached), then decideQuery whole (parse cached, decisions uncached), then again
// (decisions cached), and the longest synchronous stretch of each (the loop held).
// Usage: tsx scripts/long-query-phases.ts [rego|cedar] [statements] [distinct|same]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decideQuery } from '../gateway/src/enforce/decision-point.ts';
import { pgbenchDecisionContext } from '../gateway/src/bench/pgbench-decision-timing.ts';
import { loadPolicyEngine } from '../gateway/src/policy/load.ts';
import type { EngineKind } from '../gateway/src/policy/types.ts';
import { analyzeQueryUncached, clearAnalyzeCache, loadSqlParser } from '../gateway/src/sql/parser.ts';

const kind = (process.argv[2] ?? 'rego') as EngineKind;
const n = Number(process.argv[3] ?? 1000);
const distinct = (process.argv[4] ?? 'distinct') === 'distinct';
const sink = { write: () => undefined, writeSoon: () => undefined, whenDurable: (d: (e: Error | null) => void) => d(null), close: () => Promise.resolve() };

await loadSqlParser();
const engine = await loadPolicyEngine({ engine: kind, directory: join(resolve(import.meta.dirname, '../policies'), kind), buildDir: mkdtempSync(join(tmpdir(), 'gh-phases-')) });
const text = (salt: number): string => Array.from({ length: n }, (_, i) => `SELECT ${distinct ? salt * n + i : 1}`).join(';');
const ms = (t0: number): string => (performance.now() - t0).toFixed(1);

/** The longest time between two setImmediate callbacks from now until stop(): the loop held without a break. */
function longestTurn(): { stop(): number } {
  let last = performance.now();
  let max = 0;
  let on = true;
  const tick = (): void => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      on = false;
      return Math.max(max, performance.now() - last);
    },
  };
}

for (let round = 0; round < 3; round++) {
  const ctx = pgbenchDecisionContext(engine, sink);
  const q = text(round + 1);
  let t0 = performance.now();
  analyzeQueryUncached(q);
  const parse = ms(t0);
  clearAnalyzeCache();
  const held = longestTurn();
  t0 = performance.now();
  const first = await decideQuery(ctx, q, 'simple');
  const whole = ms(t0);
  const maxTurn = held.stop();
  t0 = performance.now();
  await decideQuery(ctx, q, 'simple');
  const again = ms(t0);
  console.log(`${kind} round ${round}: ${n} ${distinct ? 'distinct' : 'same'}: parse alone ${parse} ms; decideQuery (parse + uncached decisions + audit) ${whole} ms, longest turn ${maxTurn.toFixed(1)} ms; again (all cached) ${again} ms; ${first.kind}`);
}

// The phases one by one, on a fresh text (parse, facts + decisions, audit records).
{
  const { analyzeQuery } = await import('../gateway/src/sql/parser.ts');
  const { evaluateAll } = await import('../gateway/src/enforce/statement-evaluation.ts');
  const { auditStatements } = await import('../gateway/src/enforce/statement-audit.ts');
  const { applyMasks } = await import('../gateway/src/enforce/forward-text.ts');
  const ctx = pgbenchDecisionContext(engine, sink);
  const q = text(99);
  let t0 = performance.now();
  const parsed = analyzeQuery(q);
  const parse = ms(t0);
  if (!parsed.ok) throw new Error('parse');
  t0 = performance.now();
  const decided = await evaluateAll(ctx, 'simple', parsed.statements, 'unbound');
  const decisions = ms(t0);
  t0 = performance.now();
  applyMasks(ctx, q, decided);
  const masks = ms(t0);
  t0 = performance.now();
  auditStatements(ctx, decided);
  const audit = ms(t0);
  t0 = performance.now();
  const cached = await evaluateAll(ctx, 'simple', parsed.statements, 'unbound');
  console.log(`${kind} phases: parse ${parse} ms, decisions (uncached) ${decisions} ms, again cached ${ms(t0)} ms (${cached.length}), masks ${masks} ms, audit records (counting sink) ${audit} ms`);
}

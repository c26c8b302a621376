import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openAuditSink } from '../audit/file-sink.ts';
import type { AuditRecord } from '../audit/types.ts';
import { isUnusedTail } from '../audit/unused-tail.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import type { EngineVerdict, PolicyEngine } from '../policy/types.ts';
import { clearAnalyzeCache, loadSqlParser } from '../sql/parser.ts';
import { DecisionCache } from './decision-cache.ts';
import { decideQuery, type DecisionContext, type QueryDecision } from './decision-point.ts';
import { RelationCatalog } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-decision-cache-'));
let rego: PolicyEngine;

beforeAll(async () => {
  await loadSqlParser();
  rego = await loadPolicyEngine({ engine: 'rego', directory: join(ROOT, 'policies/rego'), buildDir });
});

const verdict = (reason: string): EngineVerdict => ({ action: 'allow', reason, policies: ['p'], masks: [] });

describe('DecisionCache', () => {
  it('evicts the least recently used verdict beyond its entries', () => {
    const cache = new DecisionCache({ maxEntries: 2 });
    expect(cache.get('r1', 'a')).toBeNull();
    cache.set('r1', 'a', verdict('a'));
    cache.set('r1', 'b', verdict('b'));
    expect(cache.get('r1', 'a')?.reason).toBe('a');
    cache.set('r1', 'c', verdict('c'));
    expect(cache.get('r1', 'b')).toBeNull();
    expect(cache.get('r1', 'c')?.reason).toBe('c');
    expect(cache.stats()).toMatchObject({ entries: 2, hits: 2, misses: 2 });
  });

  it('keeps a verdict hit between stores however many other verdicts come and go', () => {
    const cache = new DecisionCache({ maxEntries: 4 });
    cache.get('r1', 'hot');
    cache.set('r1', 'hot', verdict('hot'));
    for (let i = 0; i < 100; i++) {
      cache.set('r1', `k${i}`, verdict('cold'));
      expect(cache.get('r1', 'hot')?.reason).toBe('hot');
    }
    expect(cache.get('r1', 'k0')).toBeNull();
    expect(cache.stats()).toMatchObject({ entries: 4, hits: 100 });
  });

  it('stays within its bytes', () => {
    const cache = new DecisionCache({ maxBytes: 2_000 });
    cache.get('r1', 'x');
    for (let i = 0; i < 50; i++) cache.set('r1', `key-${i}-${'k'.repeat(100)}`, verdict('v'.repeat(100)));
    const { bytes, entries } = cache.stats();
    expect(bytes).toBeLessThanOrEqual(2_000);
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(50);
  });

  it('answers nothing decided under another revision, and drops a verdict that arrives for an old one', () => {
    const cache = new DecisionCache();
    cache.get('r1', 'a');
    cache.set('r1', 'a', verdict('old'));
    expect(cache.get('r2', 'a')).toBeNull();
    expect(cache.stats()).toMatchObject({ entries: 0, revision: 'r2' });
    cache.set('r1', 'a', verdict('late')); // an evaluation started before the activation
    expect(cache.get('r2', 'a')).toBeNull();
  });

  it('keys nothing for an engine that is not deterministic', () => {
    const input = { version: 2 } as unknown as Parameters<typeof DecisionCache.keyFor>[1];
    expect(DecisionCache.keyFor({ ...rego, deterministic: false }, input)).toBeNull();
  });
});

/** The real engine, counting how often it is asked. */
function counted(engine: PolicyEngine): PolicyEngine & { calls: number } {
  const wrapper = {
    kind: engine.kind,
    revision: engine.revision,
    deterministic: engine.deterministic,
    ...(engine.reads === undefined ? {} : { reads: engine.reads }),
    calls: 0,
    evaluate: (input: Parameters<PolicyEngine['evaluate']>[0]) => {
      wrapper.calls++;
      return engine.evaluate(input);
    },
  };
  return wrapper;
}

const ROUTINES = new RoutineCatalog([{ kind: 'operator', schema: 'pg_catalog', name: '=', harmless: true, retset: false }]);
const RELATIONS = new RelationCatalog([], { hash: true });

function session(engine: { current(): PolicyEngine }, cache: DecisionCache, subject: string, groups: string[], id: string): { ctx: DecisionContext; records: () => Promise<AuditRecord[]> } {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-decision-cache-audit-')), 'audit.ndjson');
  const audit = openAuditSink(file);
  const ctx: DecisionContext = {
    identity: { subject, issuer: 'https://idp.test', groups, roles: [], name: null },
    session: { id, clientAddress: `127.0.0.${id.length}`, applicationName: id, database: 'bench', user: 'agent', tls: false },
    searchPath: ['public'],
    engines: engine,
    audit,
    evalTimeoutMs: 5000,
    cache,
    routines: { current: () => ROUTINES },
    relations: { current: () => RELATIONS, refreshSoon: () => undefined },
  };
  // Records are written by the sink's group commit: read once it says they are on disk.
  const records = async (): Promise<AuditRecord[]> => {
    await new Promise<void>((resolve) => audit.whenDurable(() => resolve()));
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !isUnusedTail(l)) // a live durable log ends in its preallocated zeros
      .map((l) => JSON.parse(l) as AuditRecord);
  };
  return { ctx, records };
}

function decided(d: QueryDecision | Promise<QueryDecision>): QueryDecision {
  if (d instanceof Promise) throw new Error('expected a decision made at once');
  return d;
}

describe('decisions shared across sessions and literal values', () => {
  it('two sessions of the same claims share a verdict; other claims are decided again', async () => {
    clearAnalyzeCache();
    const engine = counted(rego);
    const source = { current: () => engine };
    const cache = new DecisionCache();
    const a = session(source, cache, 'bench-1', ['bench'], 'session-a');
    const b = session(source, cache, 'bench-1', ['bench'], 'session-b');
    const other = session(source, cache, 'agent-9', ['agents'], 'session-c');
    const first = decided(decideQuery(a.ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'simple'));
    const second = decided(decideQuery(b.ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 2', 'simple'));
    expect(engine.calls).toBe(1);
    expect(first.kind).toBe('forward');
    expect(second.kind).toBe('forward');
    expect(second.statements[0]!.decision.id).not.toBe(first.statements[0]!.decision.id);
    // Each record carries its own statement, session and input.
    // The first record of each file says the sink opened; the statement follows.
    const ra = (await a.records()).find((r) => r.type === 'statement');
    const rb = (await b.records()).find((r) => r.type === 'statement');
    expect(ra?.type === 'statement' ? [ra.statement, ra.session_id, ra.input?.statement.text] : null).toEqual([
      'SELECT abalance FROM pgbench_accounts WHERE aid = 1',
      'session-a',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 1',
    ]);
    expect(rb?.type === 'statement' ? [rb.statement, rb.session_id, rb.input?.statement.text, rb.decision_id] : null).toEqual([
      'SELECT abalance FROM pgbench_accounts WHERE aid = 2',
      'session-b',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 2',
      second.statements[0]!.decision.id,
    ]);
    const denied = decided(decideQuery(other.ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 3', 'simple'));
    expect(engine.calls).toBe(2);
    expect(denied.kind === 'refuse' ? denied.error.sqlstate : null).toBe('42501');
  });

  it('a policy that reads the statement text decides each literal value on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-text-policy-'));
    cpSync(join(ROOT, 'policies/rego'), dir, { recursive: true });
    writeFileSync(join(dir, 'text.rego'), 'package gatehouse\n\ndeny contains {"id": "no-4242", "reason": "account 4242 is off limits"} if contains(input.statement.text, "4242")\n');
    const textPolicy = await loadPolicyEngine({ engine: 'rego', directory: dir, buildDir });
    expect(textPolicy.reads).toMatchObject({ kind: 'paths' });
    const engine = counted(textPolicy);
    const { ctx } = session({ current: () => engine }, new DecisionCache(), 'bench-1', ['bench'], 'session-a');
    expect(decided(decideQuery(ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'simple')).kind).toBe('forward');
    const refused = decided(decideQuery(ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 4242', 'simple'));
    expect(refused.kind === 'refuse' ? refused.error.sqlstate : null).toBe('42501');
    expect(engine.calls).toBe(2);
  });

  it('a new policy revision decides again', () => {
    const first = counted(rego);
    const second = counted({ ...rego, revision: 'next-commit' });
    let active: PolicyEngine = first;
    const cache = new DecisionCache();
    const { ctx } = session({ current: () => active }, cache, 'bench-1', ['bench'], 'session-a');
    decided(decideQuery(ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'simple'));
    decided(decideQuery(ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 2', 'simple'));
    expect(first.calls).toBe(1);
    active = second;
    const d = decided(decideQuery(ctx, 'SELECT abalance FROM pgbench_accounts WHERE aid = 3', 'simple'));
    expect(second.calls).toBe(1);
    expect(d.statements[0]!.decision.revision).toBe('next-commit');
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import type { StatementFacts } from '../sql/facts.ts';
import { RoutineCatalog } from './routine-catalog.ts';
import { harmfulOperatorsAndTypes } from './routine-uses.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const row = (kind: 'operator' | 'type' | 'function', schema: string, name: string, harmless: boolean) => ({ kind, schema, name, harmless, retset: false });

function facts(sql: string): StatementFacts {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok || outcome.statements.length !== 1) throw new Error(`expected one statement: ${sql}`);
  return outcome.statements[0]!.facts;
}

describe('harmfulOperatorsAndTypes (R12-8)', () => {
  const catalog = new RoutineCatalog([
    row('operator', 'pg_catalog', '=', true),
    row('operator', 'public', '===', false),
    row('type', 'pg_catalog', 'int4', true),
    row('type', 'public', 'leaky', false),
    row('type', 'public', 'mood', true),
  ]);

  it('lists user operators and types built on user functions, by the name as written, casts included', () => {
    expect(harmfulOperatorsAndTypes(facts('SELECT 1 === 1, 2 = 2'), catalog)).toEqual(['===']);
    expect(harmfulOperatorsAndTypes(facts('SELECT 1::public.leaky, CAST(2 AS leaky), 3::int, 4::public.mood'), catalog).sort()).toEqual(['leaky', 'public.leaky']);
    expect(harmfulOperatorsAndTypes(facts('SELECT 1 WHERE 1 OPERATOR(public.===) ANY (SELECT 1)'), catalog)).toEqual(['public.===']);
  });

  it('judges the names the facts carry and nothing else (no second parse)', () => {
    expect(harmfulOperatorsAndTypes({ operators: [{ schema: 'public', name: '===' }], types: [{ schema: null, name: 'mood' }] }, catalog)).toEqual(['public.===']);
    expect(harmfulOperatorsAndTypes({ operators: [], types: [] }, catalog)).toEqual([]);
  });

  it('lists nothing when the catalog has no such operator or type', () => {
    const none = new RoutineCatalog([row('operator', 'pg_catalog', '=', true), row('function', 'public', 'f', false)]);
    expect(harmfulOperatorsAndTypes(facts('SELECT 1 === 1, 1::public.leaky'), none)).toEqual([]);
  });
});

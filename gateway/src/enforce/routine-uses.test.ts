import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import { RoutineCatalog } from './routine-catalog.ts';
import { harmfulOperatorsAndTypes } from './routine-uses.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const row = (kind: 'operator' | 'type' | 'function', schema: string, name: string, harmless: boolean) => ({ kind, schema, name, harmless, retset: false });

describe('harmfulOperatorsAndTypes (R12-8)', () => {
  const catalog = new RoutineCatalog([
    row('operator', 'pg_catalog', '=', true),
    row('operator', 'public', '===', false),
    row('type', 'pg_catalog', 'int4', true),
    row('type', 'public', 'leaky', false),
    row('type', 'public', 'mood', true),
  ]);

  it('lists user operators and types built on user functions, by the name as written, casts included', () => {
    expect(harmfulOperatorsAndTypes('SELECT 1 === 1, 2 = 2', catalog)).toEqual(['===']);
    expect(harmfulOperatorsAndTypes('SELECT 1::public.leaky, CAST(2 AS leaky), 3::int, 4::public.mood', catalog).sort()).toEqual(['leaky', 'public.leaky']);
  });

  it('does not parse at all when the catalog has no such operator or type', () => {
    const none = new RoutineCatalog([row('operator', 'pg_catalog', '=', true), row('function', 'public', 'f', false)]);
    expect(harmfulOperatorsAndTypes('SELECT 1 === 1, 1::public.leaky', none)).toEqual([]);
  });
});

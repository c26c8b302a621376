import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { buildPolicyInput, type CatalogFacts } from './input.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const identity = { subject: 'ana', issuer: 'https://idp', groups: ['g'], roles: [], name: null };
const session = { id: 's', clientAddress: '127.0.0.1', applicationName: 'psql', database: 'app', user: 'ana', tls: false };

function input(text: string, catalog?: CatalogFacts) {
  const outcome = analyzeQuery(text);
  if (!outcome.ok) throw new Error(outcome.error);
  const s = outcome.statements[0]!;
  return buildPolicyInput({ identity, session, text: s.text, protocol: 'simple', facts: s.facts, catalog });
}

describe('buildPolicyInput: the lists a shape and its catalog facts decide', () => {
  it('are shared, frozen, by statements of one shape while the catalog facts are the same', () => {
    const catalog: CatalogFacts = { tablesReadThrough: ['public.t'], functionsThrough: [], userFunctions: [] };
    const a = input('SELECT x FROM v WHERE id = 1', catalog);
    const b = input('SELECT x FROM v WHERE id = 2', catalog);
    expect(b.statement.text).not.toBe(a.statement.text);
    expect(b.statement.tables_read).toBe(a.statement.tables_read);
    expect(a.statement.tables_read).toEqual(['public.v', 'public.t']);
    expect(() => a.statement.tables_read.push('public.other')).toThrow(TypeError);
  });

  it('are made again from other catalog facts (the view was replaced)', () => {
    const before: CatalogFacts = { tablesReadThrough: ['public.t'], functionsThrough: [], userFunctions: [] };
    const after: CatalogFacts = { tablesReadThrough: ['public.secrets'], functionsThrough: ['public.f'], userFunctions: ['public.f'] };
    expect(input('SELECT x FROM w WHERE id = 1', before).statement.tables_read).toEqual(['public.w', 'public.t']);
    const changed = input('SELECT x FROM w WHERE id = 3', after).statement;
    expect(changed.tables_read).toEqual(['public.w', 'public.secrets']);
    expect(changed.functions).toEqual(['public.f']);
    expect(changed.user_functions).toEqual(['public.f']);
  });
});

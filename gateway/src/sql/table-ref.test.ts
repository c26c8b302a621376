import { describe, expect, it } from 'vitest';
import { BUILTIN, SystemRelations } from './system-relations.ts';
import { searchOrder, tableRefs } from './table-ref.ts';

const names = (schema: string | null, name: string, path: string[], system: SystemRelations, use: 'lookup' | 'create' = 'lookup') =>
  tableRefs(schema, name, path, use, system).map((t) => t.qualified);

describe('tableRefs', () => {
  it('searches pg_catalog first unless the path names it', () => {
    expect(searchOrder(['public'])).toEqual(['pg_catalog', 'public']);
    expect(searchOrder(['clinical', 'pg_catalog', 'clinical'])).toEqual(['clinical', 'pg_catalog']);
  });

  it('skips a system schema without the name and stops at one with it', () => {
    const system = SystemRelations.fromRows('test', [
      { schema: 'pg_catalog', name: 'pg_class' },
      { schema: 'information_schema', name: 'tables' },
    ]);
    expect(names(null, 'patients', ['information_schema', 'a', 'b'], system)).toEqual(['a.patients', 'b.patients']);
    expect(names(null, 'tables', ['a', 'information_schema', 'b'], system)).toEqual(['a.tables', 'information_schema.tables']);
    expect(names(null, 'pg_class', ['a'], system)).toEqual(['pg_catalog.pg_class']);
    expect(names('x', 'pg_class', ['a'], system)).toEqual(['x.pg_class']);
    expect(tableRefs(null, 'patients', ['a'], 'lookup', system).every((t) => !t.schemaExplicit)).toBe(true);
  });

  it('with the system lists unknown, every schema is a candidate (fail closed)', () => {
    const unknown = SystemRelations.unknown();
    expect(names(null, 'pg_class', ['public'], unknown)).toEqual(['pg_catalog.pg_class', 'public.pg_class']);
    expect(names(null, 'patients', ['information_schema', 'clinical'], unknown)).toEqual([
      'pg_catalog.patients',
      'information_schema.patients',
      'clinical.patients',
    ]);
  });

  it('puts a new relation in the first schema of the path', () => {
    expect(names(null, 'x', ['clinical', 'public'], BUILTIN, 'create')).toEqual(['clinical.x']);
    expect(names(null, 'x', [], BUILTIN, 'create')).toEqual(['pg_catalog.x']);
    expect(names('s', 'x', ['clinical'], BUILTIN, 'create')).toEqual(['s.x']);
  });

  it('ships the catalogs of a real server', () => {
    expect(BUILTIN.lookup('pg_catalog', 'pg_authid')).toBe('present');
    expect(BUILTIN.lookup('information_schema', 'columns')).toBe('present');
    expect(BUILTIN.lookup('pg_catalog', 'patients')).toBe('absent');
    expect(BUILTIN.lookup('public', 'patients')).toBe('unknown');
  });
});

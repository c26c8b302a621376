import { describe, expect, it } from 'vitest';
import { RoutineCatalog } from './routine-catalog.ts';

const catalog = new RoutineCatalog([
  { kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false },
  { kind: 'function', schema: 'public', name: 'lower', harmless: false, retset: false },
  { kind: 'function', schema: 'pg_catalog', name: 'generate_series', harmless: true, retset: true },
  { kind: 'function', schema: 'ext', name: 'similarity', harmless: true, retset: false },
  { kind: 'operator', schema: 'pg_catalog', name: '=', harmless: true, retset: false },
  { kind: 'type', schema: 'pg_catalog', name: 'text', harmless: true, retset: false },
]);

describe('RoutineCatalog', () => {
  it('an unqualified name is harmless only if every routine of that name in any schema is', () => {
    expect(catalog.verdict('function', { schema: null, name: 'lower' })).toBe('harmful');
    expect(catalog.verdict('function', { schema: 'pg_catalog', name: 'lower' })).toBe('harmless');
    expect(catalog.verdict('function', { schema: 'public', name: 'lower' })).toBe('harmful');
    expect(catalog.verdict('function', { schema: null, name: 'similarity' })).toBe('harmless');
  });

  it('names it does not hold are unknown, per kind and per schema', () => {
    expect(catalog.verdict('function', { schema: null, name: 'created_later' })).toBe('unknown');
    expect(catalog.verdict('function', { schema: 'public', name: 'generate_series' })).toBe('unknown');
    expect(catalog.verdict('operator', { schema: null, name: '=' })).toBe('harmless');
    expect(catalog.verdict('type', { schema: null, name: '=' })).toBe('unknown');
  });

});

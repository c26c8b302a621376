// The relation names of pg_catalog and information_schema, which decide how unqualified names
// resolve (sql/table-ref.ts): read from the real server, and the list shipped for offline analysis
// (policy tests) checked against it.

import { describe, expect, it } from 'vitest';
import { loadSystemRelations, renderBuiltin, UpstreamSystemRelations } from '../src/pg/system-relations-loader.ts';
import { activeSystemRelations, BUILTIN, installSystemRelations } from '../src/sql/system-relations.ts';
import { BUILTIN_SYSTEM_RELATIONS } from '../src/sql/system-relations-builtin.ts';
import { ensureClinicDatabase } from './support/harness.ts';

describe('system relations', () => {
  it('reads every relation of the system schemas from the server', async () => {
    const { version, relations } = await loadSystemRelations(await ensureClinicDatabase(), null);
    expect(version).toBeGreaterThanOrEqual(13);
    expect(relations.lookup('pg_catalog', 'pg_class')).toBe('present');
    expect(relations.lookup('pg_catalog', 'pg_class_oid_index')).toBe('present'); // an index ends the search too
    expect(relations.lookup('information_schema', 'tables')).toBe('present');
    expect(relations.lookup('pg_catalog', 'patients')).toBe('absent');
    expect(relations.lookup('clinical', 'patients')).toBe('unknown');
  });

  it('ships the list of the PostgreSQL version the tests run on', async () => {
    const { version, relations } = await loadSystemRelations(await ensureClinicDatabase(), null);
    // Another major version has other catalogs: regenerate with scripts/gen-system-relations.ts.
    expect(BUILTIN_SYSTEM_RELATIONS.version, 'regenerate system-relations-builtin.ts for this server').toBe(version);
    expect(BUILTIN.rows()).toEqual(relations.rows());
    expect(renderBuiltin(version, relations)).toContain(`version: ${version},`);
  });

  it('fails when the server cannot be reached (the gateway then resolves every name to every schema)', async () => {
    await expect(loadSystemRelations('postgresql://postgres@127.0.0.1:1/postgres', null, 1000)).rejects.toThrow();
  });

  it('a gateway installs its server\'s lists, and "unknown" while it cannot read them', async () => {
    const changes: string[] = [];
    try {
      const down = new UpstreamSystemRelations('postgresql://postgres@127.0.0.1:1/postgres', 1000, () => undefined, () => changes.push('down'));
      expect(await down.ensure()).toBe(false);
      expect(activeSystemRelations().lookup('pg_catalog', 'pg_class')).toBe('unknown');
      const up = new UpstreamSystemRelations(await ensureClinicDatabase(), 5000, () => undefined, () => changes.push('up'));
      expect(await up.ensure()).toBe(true);
      expect(activeSystemRelations().lookup('pg_catalog', 'pg_class')).toBe('present');
      expect(await up.ensure()).toBe(true); // read once
      expect(changes).toEqual(['down', 'up']);
    } finally {
      installSystemRelations(BUILTIN);
    }
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import { referencedColumns } from './write-reads.ts';

beforeAll(async () => {
  await loadSqlParser();
});

describe('referencedColumns', () => {
  it('lists what a write reads, not what it assigns', () => {
    expect(referencedColumns("UPDATE clinical.patients SET phone = '1' WHERE id = 1")).toEqual(new Set(['id']));
    expect(referencedColumns("UPDATE clinical.patients SET phone = phone WHERE ssn = 'x'")).toEqual(new Set(['phone', 'ssn']));
    expect(referencedColumns('DELETE FROM clinical.patients WHERE id = -1 RETURNING p.ssn')).toEqual(new Set(['id', 'ssn']));
    expect(referencedColumns('DELETE FROM clinical.patients RETURNING *')).toEqual(new Set(['*']));
    expect(referencedColumns("INSERT INTO clinical.patients (mrn, phone) VALUES ('m', '1')")).toEqual(new Set());
  });

  it('counts a whole-row reference to a table, alias or CTE as "*", and a field of a composite by its name', () => {
    for (const sql of [
      "UPDATE clinical.patients p SET phone = '1' WHERE id = 1 RETURNING p",
      "UPDATE clinical.patients SET phone = '1' WHERE id = 1 RETURNING patients",
      "UPDATE clinical.patients p SET address = p::text WHERE id = 1",
      'DELETE FROM clinical.patients AS q WHERE id = -1 RETURNING to_jsonb(q)',
      'WITH c AS (SELECT 1 AS x) UPDATE clinical.patients SET phone = (SELECT c::text FROM c) WHERE id = 1',
    ]) {
      expect(referencedColumns(sql), sql).toContain('*');
    }
    expect(referencedColumns("UPDATE clinical.patients p SET phone = '1' WHERE id = 1 RETURNING (p).ssn")).toContain('ssn');
    expect(referencedColumns("UPDATE clinical.patients p SET phone = '1' WHERE p.id = 1 RETURNING p.id")).toEqual(new Set(['id']));
  });

  it('is null for text that does not parse', () => {
    expect(referencedColumns('UPDATE SET')).toBeNull();
  });
});

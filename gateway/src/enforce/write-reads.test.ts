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

  it('is null for text that does not parse', () => {
    expect(referencedColumns('UPDATE SET')).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { LAST4_FUNCTION, maskedColumn } from './mask-expressions.ts';
import type { ColumnInfo } from './relation-catalog.ts';

const phone: ColumnInfo = { name: 'phone', attnum: 3, type: 'character varying(20)', category: 'S', typeOid: 1043 };
const visits: ColumnInfo = { name: 'visits', attnum: 4, type: 'integer', category: 'N', typeOid: 23 };

describe('maskedColumn last4', () => {
  it('calls the C function when the database has it, cast back to the column type', () => {
    expect(maskedColumn(phone, 'last4', 'clinical.patients.phone', { last4: true })).toBe(
      `CAST(${LAST4_FUNCTION}(CAST(gatehouse_masked."phone" AS pg_catalog.text)) AS character varying(20)) AS "phone"`,
    );
  });

  it('writes the SQL expression without it (managed servers), and by default', () => {
    const sql = maskedColumn(phone, 'last4', 'clinical.patients.phone', { last4: false });
    expect(sql).not.toContain(LAST4_FUNCTION);
    expect(sql).toContain('pg_catalog."right"(CAST(gatehouse_masked."phone" AS pg_catalog.text), 4)');
    expect(maskedColumn(phone, 'last4', 'clinical.patients.phone')).toBe(sql);
  });

  it('stays NULL of the type for a column that is not a string, either way', () => {
    expect(maskedColumn(visits, 'last4', 'clinical.patients.visits', { last4: true })).toBe('CAST(NULL AS integer) AS "visits"');
    expect(maskedColumn(visits, 'last4', 'clinical.patients.visits')).toBe('CAST(NULL AS integer) AS "visits"');
  });
});

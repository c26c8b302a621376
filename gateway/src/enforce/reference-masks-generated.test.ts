import { describe, expect, it } from 'vitest';
import type { TableMasks } from './mask-applied.ts';
import { rowMasks } from './reference-masks.ts';
import type { ColumnInfo, RelationInfo } from './relation-catalog.ts';

// Red-team round 21a, R21a-2 with R21a-3: a row's masks are its table's and its ancestors'; a generated
// column the child adds over a column its parent masks holds the masked value too.

const text = (name: string, attnum: number, generatedFrom?: string[]): ColumnInfo => ({ name, attnum, type: 'text', category: 'S', typeOid: 25, ...(generatedFrom ? { generatedFrom } : {}) });

const child: RelationInfo = {
  oid: 11,
  schema: 'public',
  name: 'kin_child',
  qualified: 'public.kin_child',
  kind: 'table',
  persistence: 'permanent',
  columns: [text('id', 1), text('ssn', 2), text('digits', 3, ['ssn']), text('note', 4)],
  reads: [],
  ancestors: ['public.kin'],
};

describe('rowMasks and generated columns', () => {
  it("masks a child's own generated column over its parent's masked column (last4 becomes redact), in the child's domain", () => {
    const masks = new Map<string, TableMasks>([['public.kin', new Map([['ssn', 'last4']])]]);
    const got = rowMasks(child, masks);
    expect(got.get('ssn')).toEqual({ strategy: 'last4', table: 'public.kin' });
    expect(got.get('digits')).toEqual({ strategy: 'redact', table: 'public.kin_child' });
    expect(got.has('note')).toBe(false);
  });

  it('keeps a stronger mask the policy puts on the generated column itself', () => {
    const masks = new Map<string, TableMasks>([
      ['public.kin', new Map([['ssn', 'redact']])],
      ['public.kin_child', new Map([['digits', 'null']])],
    ]);
    expect(rowMasks(child, masks).get('digits')).toEqual({ strategy: 'null', table: 'public.kin_child' });
  });
});

import { describe, expect, it } from 'vitest';
import type { MaskStrategy } from '../policy/types.ts';
import { partitionMembershipRefusal } from './partition-membership.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';

function table(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...more };
}

const CATALOG = new RelationCatalog(
  [
    table(1, 'by_ssn', { kind: 'partitioned_table', partitionKey: ['ssn'] }),
    table(2, 'by_ssn_a', { ancestors: ['public.by_ssn'] }),
    table(3, 'by_region', { kind: 'partitioned_table', partitionKey: ['region'] }),
    table(4, 'by_region_1', { ancestors: ['public.by_region'] }),
    table(5, 'by_expr', { kind: 'partitioned_table', partitionKey: ['*'] }),
    table(6, 'by_expr_1', { ancestors: ['public.by_expr'] }),
    table(7, 'by_ssn_a_sub', { ancestors: ['public.by_ssn', 'public.by_ssn_a'] }),
  ],
  { hash: true },
);

const SSN = new Map<string, MaskStrategy>([['ssn', 'redact']]);
const refusal = (name: string, masks = SSN) => partitionMembershipRefusal(CATALOG.get(`public.${name}`)!, masks, CATALOG);

describe('partition membership under a mask (R21a-5)', () => {
  it('refuses naming a partition (at any depth) of a table partitioned by a masked column, or by an expression', () => {
    expect(refusal('by_ssn_a')?.message).toContain('"ssn"');
    expect(refusal('by_ssn_a_sub')?.message).toContain('public.by_ssn');
    expect(refusal('by_expr_1')?.message).toContain('an expression');
  });

  it('lets through the parent itself, partitions keyed by unmasked columns, and no masks', () => {
    expect(refusal('by_ssn')).toBeNull();
    expect(refusal('by_region_1')).toBeNull();
    expect(refusal('by_expr_1', new Map())).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import type { DetectRule, MaskRule } from '../policy/types.ts';
import { filterRow, planOutput, type ResultField } from './output-plan.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';

const VISITS_OID = 5001;
const VISITS: RelationInfo = {
  oid: VISITS_OID,
  schema: 'clinical',
  name: 'visits',
  qualified: 'clinical.visits',
  kind: 'table',
  persistence: 'permanent',
  columns: [
    { name: 'id', attnum: 1, type: 'integer', category: 'N', typeOid: 23 },
    { name: 'notes', attnum: 2, type: 'text', category: 'S', typeOid: 25 },
  ],
  reads: [],
  ancestors: [],
};
const relations = new RelationCatalog([VISITS], { hash: true });
const view = (oid: number, name: string, kind: 'view' | 'materialized_view'): RelationInfo => ({
  oid,
  schema: 'clinical',
  name,
  qualified: `clinical.${name}`,
  kind,
  persistence: 'permanent' as const,
  columns: [{ name: 'notes', attnum: 1, type: 'text', category: 'S', typeOid: 25 }],
  reads: ['clinical.visits'],
  ancestors: [],
});
const withViews = new RelationCatalog([VISITS, view(6001, 'visit_notes', 'view'), view(6002, 'visit_notes_mv', 'materialized_view')], { hash: true });
const detections: DetectRule[] = [{ table: 'clinical.visits', column: 'notes', detectors: ['ssn', 'phone'], policies: ['p'] }];
const noMasks: MaskRule[] = [];
const field = (typeOid: number, format: number, tableOid = 0, columnAttr = 0): ResultField => ({ name: 'c', tableOid, columnAttr, typeOid, format });

describe('planOutput under content detection', () => {
  it('scans text, a binary text-like value (bytea too) and binary jsonb', () => {
    const plan = planOutput([field(25, 0, VISITS_OID, 2), field(25, 1), field(17, 1), field(3802, 1), field(2249, 0)], noMasks, detections, relations);
    expect(plan.columns.map((c) => (c.kind === 'scan' ? `scan:${c.encoding}` : c.kind))).toEqual(['scan:text', 'scan:text', 'scan:text', 'scan:jsonb', 'scan:text']);
    const counts = {};
    const row = filterRow([Buffer.from('SSN 123-45-6789'), null, Buffer.from('call 202-555-0143'), null, null], plan, counts);
    expect(row?.map((v) => v?.toString('utf8') ?? null)).toEqual(['SSN [SSN]', null, 'call [PHONE]', null, null]);
    expect(counts).toEqual({ ssn: 1, phone: 1 });
  });

  it('withholds a binary value that may hold text where the scan cannot read it: whole rows, arrays, domains, tsvector', () => {
    // 20665: a table's row type; 1009: text[]; 3614: tsvector; 99999: a domain or extension type.
    const plan = planOutput([field(20665, 1), field(1009, 1), field(3614, 1), field(99999, 1)], noMasks, detections, relations);
    expect(plan.columns.map((c) => c.kind)).toEqual(['withhold', 'withhold', 'withhold', 'withhold']);
    expect(filterRow([Buffer.from('raw'), Buffer.from('raw'), Buffer.from('raw'), Buffer.from('raw')], plan, {})).toEqual([null, null, null, null]);
  });

  it('scans a column of a view or materialized view as computed: its values may come from a scanned column', () => {
    const plan = planOutput([field(25, 0, 6001, 1), field(25, 0, 6002, 1), field(25, 0, VISITS_OID, 1)], noMasks, detections, withViews);
    expect(plan.columns.map((c) => c.kind)).toEqual(['scan', 'scan', 'pass']);
  });

  it('passes binary numbers, dates and the like, and everything when nothing is masked or detected', () => {
    const fields = [field(23, 1), field(20, 1), field(1700, 1), field(1184, 1), field(2950, 1), field(16, 1)];
    expect(planOutput(fields, noMasks, detections, relations).columns.map((c) => c.kind)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
    expect(planOutput([field(20665, 1)], noMasks, [], relations)).toEqual({ columns: [{ kind: 'pass' }], any: false });
  });
});

describe('planOutput under a mask (defence in depth)', () => {
  it('withholds a column straight from a masked column, or from a generated column computed from one (R21a-2)', () => {
    const people: RelationInfo = {
      ...VISITS,
      oid: 7001,
      name: 'people',
      qualified: 'clinical.people',
      columns: [
        { name: 'id', attnum: 1, type: 'integer', category: 'N', typeOid: 23 },
        { name: 'ssn', attnum: 2, type: 'text', category: 'S', typeOid: 25 },
        { name: 'digits', attnum: 3, type: 'text', category: 'S', typeOid: 25, generatedFrom: ['ssn'] },
      ],
    };
    const masks: MaskRule[] = [{ table: 'clinical.people', column: 'ssn', strategy: 'redact', policy: 'p' }];
    const plan = planOutput([field(23, 0, 7001, 1), field(25, 0, 7001, 2), field(25, 0, 7001, 3)], masks, [], new RelationCatalog([people], { hash: true }));
    expect(plan.columns.map((c) => c.kind)).toEqual(['pass', 'withhold', 'withhold']);
  });
});

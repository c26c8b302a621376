import { describe, expect, it } from 'vitest';
import { subjectHasher } from '../audit/subjects.ts';
import type { SubjectPlan } from '../enforce/hidden-subjects.ts';
import { dataRow, decodeDataRow } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import type { ResultContext } from './pending.ts';
import { subjectsOf, subjectsRecord, takeSubjects } from './result-subjects.ts';

const hash = subjectHasher(Buffer.alloc(32, 7));
const settings = { phi: new Map([['clinical.patients', 'id']]), hash, cap: 100 };
const disclosures = () => settings;
const row = (...values: string[]): Frame => {
  const raw = dataRow(values.map((v) => Buffer.from(v)));
  return { type: raw[0]!, raw, body: raw.subarray(5) };
};

function context(subjects: SubjectPlan | null): ResultContext {
  const decision = { action: 'allow' as const, reason: 'ok', policies: [], masks: [], id: 'd', engine: 'rego' as const, revision: 'r', evalMicros: 0 };
  return { statements: [{ text: 'SELECT', parsed: null, input: null, decision, subjects }], masks: [], detections: [], index: 0, plan: null, columns: null, rows: 0, detected: {} };
}

describe('result subjects', () => {
  it('takes the hidden subject column off each row and records its hash in the outcome', () => {
    const plan: SubjectPlan = { hidden: ['clinical.patients'], returningAdded: false, unknown: {} };
    const ctx = context(plan);
    expect(subjectsOf(ctx)).toBe(plan);
    const visible = takeSubjects(row('Ada', '1042'), ctx, plan, disclosures)!;
    expect(decodeDataRow(visible.body).map((v) => v?.toString())).toEqual(['Ada']);
    const record = subjectsRecord(ctx, disclosures);
    expect(JSON.stringify(record)).toContain(hash('1042'));
    expect(JSON.stringify(record)).not.toContain('1042"');
  });

  it('a row of a RETURNING only Gatehouse added is not the client’s at all', () => {
    const plan: SubjectPlan = { hidden: ['clinical.patients'], returningAdded: true, unknown: {} };
    expect(takeSubjects(row('1042'), context(plan), plan, disclosures)).toBeNull();
  });

  it('nothing to record without hidden columns or without disclosures configured', () => {
    expect(subjectsOf(context(null))).toBeNull();
    expect(subjectsRecord(context(null), disclosures)).toBeNull();
    const plan: SubjectPlan = { hidden: ['clinical.patients'], returningAdded: false, unknown: {} };
    expect(subjectsRecord(context(plan), () => undefined)).toBeNull();
  });

  it('a row without its subject columns is an error', () => {
    const plan: SubjectPlan = { hidden: ['clinical.patients', 'clinical.visits'], returningAdded: false, unknown: {} };
    expect(() => takeSubjects(row('1042'), context(plan), plan, disclosures)).toThrow('a row without its subject columns');
  });
});

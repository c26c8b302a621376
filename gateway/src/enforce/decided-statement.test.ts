import { describe, expect, it } from 'vitest';
import type { EngineVerdict, PolicyEngine } from '../policy/types.ts';
import { stamp, VERDICT_FIELDS } from './decided-statement.ts';

describe('stamp', () => {
  it('copies every field of the verdict (each listed in VERDICT_FIELDS) and adds the id, engine, revision and time', () => {
    const verdict = Object.fromEntries(Object.keys(VERDICT_FIELDS).map((k) => [k, { field: k }])) as unknown as EngineVerdict;
    const engine = { kind: 'cedar', revision: 'abc' } as PolicyEngine;
    const d = stamp(verdict, engine, 7);
    for (const k of Object.keys(VERDICT_FIELDS)) expect(d[k as keyof EngineVerdict], k).toBe(verdict[k as keyof EngineVerdict]);
    expect(d).toMatchObject({ engine: 'cedar', revision: 'abc', evalMicros: 7 });
    expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(stamp(verdict, engine, 7).id).not.toBe(d.id);
  });

  it('leaves out the optional fields a verdict does not have', () => {
    const d = stamp({ action: 'allow', reason: 'ok', policies: [], masks: [] }, null, 0);
    expect(Object.keys(d).sort()).toEqual(['action', 'engine', 'evalMicros', 'id', 'masks', 'policies', 'reason', 'revision']);
    expect(d).toMatchObject({ engine: 'rego', revision: 'none' });
  });
});

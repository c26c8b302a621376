import { describe, expect, it } from 'vitest';
import { combineVerdicts, DEFAULT_DENY_ID, engineErrorVerdict, unionDetections, unionMasks } from './combine.ts';
import type { EngineVerdict, MaskRule } from './types.ts';

function part(action: EngineVerdict['action'], id: string, masks: MaskRule[] = []): EngineVerdict {
  const verdict: EngineVerdict = { action, reason: `${action} by ${id}`, policies: [id], masks };
  if (action === 'approve') verdict.approval = { approvers: ['leads'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 0 };
  return verdict;
}

function mask(column: string, strategy: MaskRule['strategy'], policy = 'p', table = 'clinical.patients'): MaskRule {
  return { table, column, strategy, policy };
}

describe('combineVerdicts', () => {
  it('denies when nothing permits', () => {
    expect(combineVerdicts([])).toMatchObject({ action: 'deny', policies: [DEFAULT_DENY_ID], masks: [] });
  });

  it.each([
    [['allow', 'mask', 'approve', 'deny'], 'deny'],
    [['allow', 'mask', 'approve'], 'approve'],
    [['mask', 'allow'], 'mask'],
    [['allow', 'allow'], 'allow'],
  ] as const)('%j → %s', (actions, expected) => {
    const verdict = combineVerdicts(actions.map((a, i) => part(a, `${a}-${i}`)));
    expect(verdict.action).toBe(expected);
    expect(verdict.policies.every((id) => id.startsWith(expected))).toBe(true);
  });

  it('keeps the reasons and ids of the winning level only, sorted and deduplicated', () => {
    const verdict = combineVerdicts([part('approve', 'b'), part('allow', 'z'), part('approve', 'a'), part('approve', 'a')]);
    expect(verdict.policies).toEqual(['a', 'b']);
    expect(verdict.reason).toBe('approve by a; approve by b');
  });

  it('keeps masks when a stronger action wins (for the audit record)', () => {
    const verdict = combineVerdicts([part('mask', 'm', [mask('ssn', 'redact', 'm')]), part('approve', 'w')]);
    expect(verdict.action).toBe('approve');
    expect(verdict.masks).toEqual([mask('ssn', 'redact', 'm')]);
  });

  it('drops the default deny when a named policy denies', () => {
    const verdict = combineVerdicts([part('deny', DEFAULT_DENY_ID), part('deny', 'deny-ddl')]);
    expect(verdict.policies).toEqual(['deny-ddl']);
    expect(verdict.reason).toBe('deny by deny-ddl');
  });

  it('keeps engine errors next to a named deny', () => {
    const verdict = combineVerdicts([engineErrorVerdict('boom', ['broken']), part('deny', 'deny-ddl')]);
    expect(verdict.policies).toEqual(['broken', 'deny-ddl']);
    expect(verdict.reason).toContain('policy engine error: boom');
  });
});

describe('unionMasks', () => {
  it('keeps one rule per column, the strongest strategy winning: null > redact > hash > last4', () => {
    const rules = [
      mask('phone', 'last4', 'a'),
      mask('phone', 'hash', 'b'),
      mask('ssn', 'redact', 'a'),
      mask('ssn', 'null', 'b'),
      mask('email', 'hash', 'a'),
      mask('email', 'redact', 'b'),
      mask('email', 'last4', 'c'),
    ];
    expect(unionMasks(rules)).toEqual([mask('email', 'redact', 'b'), mask('phone', 'hash', 'b'), mask('ssn', 'null', 'b')]);
  });

  it('is independent of order on ties', () => {
    const a = unionMasks([mask('ssn', 'redact', 'x'), mask('ssn', 'redact', 'a')]);
    const b = unionMasks([mask('ssn', 'redact', 'a'), mask('ssn', 'redact', 'x')]);
    expect(a).toEqual(b);
    expect(a[0]?.policy).toBe('a');
  });

  it('treats the same column of different tables separately', () => {
    const rules = [mask('id', 'hash', 'p', 'clinical.visits'), mask('id', 'null', 'p', 'clinical.patients')];
    expect(unionMasks(rules).map((m) => m.table)).toEqual(['clinical.patients', 'clinical.visits']);
  });
});

describe('unionDetections', () => {
  it('unions the detectors and policies of each (table, column), in detector order, sorted by table and column', () => {
    expect(
      unionDetections([
        { table: 'clinical.visits', column: 'notes', detectors: ['phone', 'ssn'], policies: ['b'] },
        { table: 'clinical.visits', column: '*', detectors: ['email'], policies: ['c'] },
        { table: 'clinical.visits', column: 'notes', detectors: ['ssn', 'dob'], policies: ['a'] },
        { table: 'app.docs', column: 'body', detectors: ['ip'], policies: ['a'] },
      ]),
    ).toEqual([
      { table: 'app.docs', column: 'body', detectors: ['ip'], policies: ['a'] },
      { table: 'clinical.visits', column: '*', detectors: ['email'], policies: ['c'] },
      { table: 'clinical.visits', column: 'notes', detectors: ['dob', 'ssn', 'phone'], policies: ['a', 'b'] },
    ]);
  });

  it('is carried by combineVerdicts, also when a stronger action wins, and absent when there is none', () => {
    const detect: EngineVerdict = {
      ...part('mask', 'notes'),
      detections: [{ table: 'clinical.visits', column: 'notes', detectors: ['ssn'], policies: ['notes'] }],
    };
    expect(combineVerdicts([detect, part('allow', 'read')])).toMatchObject({ action: 'mask', policies: ['notes'], detections: detect.detections });
    expect(combineVerdicts([detect, part('deny', 'no')]).detections).toEqual(detect.detections);
    expect('detections' in combineVerdicts([part('allow', 'read')])).toBe(false);
  });
});

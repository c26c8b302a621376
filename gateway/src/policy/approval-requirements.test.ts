import { describe, expect, it } from 'vitest';
import { combineRequirements, parseDuration, readApprovalRequirements } from './approval-requirements.ts';
import { combineVerdicts } from './combine.ts';
import type { ApprovalRequirements } from './types.ts';

const base: ApprovalRequirements = { approvers: ['leads'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 0 };

describe('approval requirements', () => {
  it('parses one-unit durations and refuses the rest', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('2d')).toBe(172800);
    expect(parseDuration('1h30m')).toBeNull();
    expect(parseDuration('-1h')).toBeNull();
    expect(parseDuration('')).toBeNull();
  });

  it('fills defaults: quorum 1, ttl 1 h, no reason, no grant', () => {
    expect(readApprovalRequirements({ approvers: ['b', 'a', 'a'] })).toEqual({
      ok: true,
      requirements: { approvers: ['a', 'b'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 0 },
    });
  });

  it('reads Cedar-style strings like Rego values', () => {
    const cedar = readApprovalRequirements({ approvers: 'dba, leads', quorum: '2', ttl: '15m', reason_required: 'true', grant: '30m' });
    const rego = readApprovalRequirements({ approvers: ['dba', 'leads'], quorum: 2, ttl: '15m', reason_required: true, grant: '30m' });
    expect(cedar).toEqual(rego);
    expect(cedar.ok && cedar.requirements).toEqual({ approvers: ['dba', 'leads'], quorum: 2, ttlSeconds: 900, reasonRequired: true, grantMaxSeconds: 1800 });
  });

  it('refuses missing approvers and bad values, saying which', () => {
    const problem = (raw: Parameters<typeof readApprovalRequirements>[0]): string => {
      const r = readApprovalRequirements(raw);
      return r.ok ? 'ok' : r.problem;
    };
    expect(problem({})).toMatch(/no approvers/);
    expect(problem({ approvers: [] })).toMatch(/no approvers/);
    expect(problem({ approvers: ['a'], quorum: 0 })).toMatch(/quorum/);
    expect(problem({ approvers: ['a'], quorum: 1.5 })).toMatch(/quorum/);
    expect(problem({ approvers: ['a'], ttl: 3600 })).toMatch(/ttl/);
    expect(problem({ approvers: ['a'], ttl: '30d' })).toMatch(/ttl/);
    expect(problem({ approvers: ['a'], reason_required: 'yes' })).toMatch(/reason_required/);
    expect(problem({ approvers: ['a'], grant: '2d' })).toMatch(/grant/);
  });

  it('combines several rules strictly: common approvers, largest quorum, shortest ttl and grant', () => {
    const a = { ...base, approvers: ['dba', 'leads'], quorum: 2, ttlSeconds: 600, grantMaxSeconds: 1800 };
    const b = { ...base, approvers: ['leads', 'security'], reasonRequired: true, grantMaxSeconds: 600 };
    expect(combineRequirements([a, b])).toEqual({ approvers: ['leads'], quorum: 2, ttlSeconds: 600, reasonRequired: true, grantMaxSeconds: 600 });
    expect(combineRequirements([{ ...base, approvers: ['x'] }, { ...base, approvers: ['y'] }])).toBeNull();
  });

  it('an approve verdict nobody could answer is denied when verdicts combine', () => {
    const v = combineVerdicts([
      { action: 'approve', reason: 'r1', policies: ['p1'], masks: [], approval: { ...base, approvers: ['x'] } },
      { action: 'approve', reason: 'r2', policies: ['p2'], masks: [], approval: { ...base, approvers: ['y'] } },
    ]);
    expect(v.action).toBe('deny');
    expect(v.reason).toMatch(/no approver group in common/);
    const ok = combineVerdicts([{ action: 'approve', reason: 'r', policies: ['p'], masks: [], approval: base }, { action: 'allow', reason: '', policies: ['q'], masks: [] }]);
    expect(ok.action).toBe('approve');
    expect(ok.approval).toEqual(base);
  });
});

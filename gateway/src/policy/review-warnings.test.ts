import { describe, expect, it } from 'vitest';
import { reviewWarnings, warningText } from './review-warnings.ts';

describe('reviewWarnings', () => {
  it('warns where a Rego or Cedar policy names suppress_redundant_updates_trigger, not in a comment', () => {
    const rego = [
      'package gatehouse',
      '# pg_catalog.suppress_redundant_updates_trigger is not listed on purpose',
      'reviewed contains "pg_catalog.suppress_redundant_updates_trigger"',
      'x := "a # b suppress_redundant_updates_trigger"',
    ].join('\n');
    const warnings = reviewWarnings([{ path: 'routines.rego', content: rego }], 'rego');
    expect(warnings.map((w) => w.line)).toEqual([3, 4]);
    expect(warningText(warnings[0]!)).toMatch(/^routines\.rego:3: the policy names suppress_redundant_updates_trigger .*R17a-1/);
    const cedar = ['// suppress_redundant_updates_trigger: no', '@reviewed("public.stamp, pg_catalog.suppress_redundant_updates_trigger")', 'permit (principal, action, resource);'].join('\n');
    expect(reviewWarnings([{ path: 'w.cedar', content: cedar }], 'cedar').map((w) => w.line)).toEqual([2]);
  });

  it('says nothing of a policy that does not name it', () => {
    expect(reviewWarnings([{ path: 'r.rego', content: 'reviewed contains "public.stamp"' }], 'rego')).toEqual([]);
  });
});

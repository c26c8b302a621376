// Adversarial review of policy locations: comments, regex characters and quotes in ids.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locatePolicies } from './policy-locations.ts';

describe('locatePolicies (review)', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-locate-review-'));
  mkdirSync(join(root, 'rego'), { recursive: true });
  mkdirSync(join(root, 'cedar'), { recursive: true });
  writeFileSync(
    join(root, 'rego/a.rego'),
    [
      'package gatehouse',
      '# old rule, removed: allow contains {"id": "read-visits"} if { true }',
      'allow contains {"id": "read-visits"} if { true } # {"id": "other"}',
      'deny contains {"id": "a.b+c", "reason": "say \\"#\\" here"} if { true }',
      'deny contains {"id": "q\\"uote"} if { true }',
      'deny contains {"id": "url#frag"} if { true }',
    ].join('\n'),
  );
  writeFileSync(join(root, 'cedar/p.cedar'), ['// @id("read-visits") was here', '@id("read-visits") // @id("other")', 'permit (principal, action, resource);', '@id("x//y")', 'forbid (principal, action, resource);'].join('\n'));

  it('a commented-out Rego rule is not where the policy is written', () => {
    expect(locatePolicies('rego', join(root, 'rego'), ['read-visits', 'other', 'a.b+c', 'aXb+c', 'q"uote', 'url#frag'], root)).toEqual({
      'read-visits': ['rego/a.rego:3'],
      other: [],
      'a.b+c': ['rego/a.rego:4'],
      'aXb+c': [],
      'q"uote': ['rego/a.rego:5'],
      'url#frag': ['rego/a.rego:6'],
    });
  });

  it('a commented-out Cedar @id is not where the policy is written', () => {
    expect(locatePolicies('cedar', join(root, 'cedar'), ['read-visits', 'other', 'x//y'], root)).toEqual({
      'read-visits': ['cedar/p.cedar:2'],
      other: [],
      'x//y': ['cedar/p.cedar:4'],
    });
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locatePolicies } from './policy-locations.ts';

describe('locatePolicies', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-locate-'));
  mkdirSync(join(root, 'policies/rego/sub'), { recursive: true });
  mkdirSync(join(root, 'policies/cedar'), { recursive: true });
  writeFileSync(join(root, 'policies/rego/a.rego'), 'package gatehouse\n\nallow contains {"id": "read-visits", "reason": "r"} if {\n\ttrue\n}\n');
  writeFileSync(join(root, 'policies/rego/sub/b.rego'), 'package gatehouse\ndeny contains {"id":"read-visits.v2"} if { true }\nmask contains {"reason": "x", "id": "read-visits"} if { true }\n');
  writeFileSync(join(root, 'policies/rego/a_test.rego'), 'package gatehouse\ntest_x if { {"id": "read-visits"} }\n');
  writeFileSync(join(root, 'policies/cedar/p.cedar'), '@id("read-visits")\npermit (principal, action, resource);\n\n@id( "other" )\nforbid (principal, action, resource);\n');

  it('finds each Rego rule that declares the id (not tests, not a longer id), relative to the root', () => {
    expect(locatePolicies('rego', join(root, 'policies/rego'), ['read-visits', 'read-visits.v2', 'gatehouse-budget'], root)).toEqual({
      'read-visits': ['policies/rego/a.rego:3', 'policies/rego/sub/b.rego:3'],
      'read-visits.v2': ['policies/rego/sub/b.rego:2'],
      'gatehouse-budget': [],
    });
  });

  it('finds Cedar policies by their @id annotation', () => {
    expect(locatePolicies('cedar', join(root, 'policies/cedar'), ['read-visits', 'other'], root)).toEqual({
      'read-visits': ['policies/cedar/p.cedar:1'],
      other: ['policies/cedar/p.cedar:4'],
    });
  });
});

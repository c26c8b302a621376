import { describe, expect, it } from 'vitest';
import { renderDiff, summaryLine } from './render.ts';
import type { PolicyDiffReport } from './types.ts';
import type { PolicyInput } from '../types.ts';

const input = (text: string, subject: string, groups: string[]): PolicyInput =>
  ({ version: 1, identity: { subject, issuer: 'i', groups, roles: [], name: null }, session: {}, statement: { text } }) as unknown as PolicyInput;

const report: PolicyDiffReport = {
  repository: '.',
  base: { ref: 'main', commit: 'a'.repeat(40), subject: 'Base' },
  head: { ref: 'HEAD', commit: 'b'.repeat(40), subject: 'Unmask phone' },
  engines: ['rego', 'cedar'],
  counts: { inputs: 12, changed: 2, cases: 20, auditRecords: 5, changedByEngine: { rego: 2, cedar: 1 } },
  changes: [
    {
      key: 'k1',
      input: input('SELECT phone FROM clinical.patients', 'agent-7', ['agents']),
      origins: [{ type: 'case', name: 'agent reads patients', file: 'policy-tests/clinical.yaml', line: 6, side: 'both' }],
      engines: ['rego', 'cedar'],
      base: { action: 'mask', policies: ['clinical-read-masked'], masks: [], reason: '' },
      head: { action: 'mask', policies: ['clinical-read-masked'], masks: [], reason: '' },
      changed: ['masks'],
      masks: [{ table: 'clinical.patients', column: 'phone', base: 'last4', head: null }],
    },
    {
      key: 'k2',
      input: input('SELECT a | b FROM clinical.visits', 'dr-oncall', ['breakglass']),
      origins: [{ type: 'audit', file: 'audit.ndjson', records: 3 }],
      engines: ['rego'],
      base: { action: 'allow', policies: ['breakglass-read', 'statement-data'], masks: [], reason: '' },
      head: { action: 'deny', policies: ['breakglass-no-visits'], masks: [], reason: '' },
      changed: ['action', 'policies'],
      masks: [],
    },
  ],
  warnings: ['policy-tests/x.yaml:3 (head): YAML: bad'],
};

describe('rendering a policy diff', () => {
  it('summary line', () => {
    expect(summaryLine(report)).toBe('12 inputs evaluated, 2 changed (rego 2, cedar 1)');
  });

  it('text: one row per change with what, who, engines, base and head, mask changes below, then the summary', () => {
    const text = renderDiff(report, 'text');
    expect(text).toMatch(/1\s+agent reads patients\s+agent-7 \[agents\]\s+rego, cedar\s+mask: clinical-read-masked\s+mask: clinical-read-masked/);
    expect(text).toContain('mask clinical.patients.phone last4 → unmasked');
    expect(text).toMatch(/2\s+SELECT a \| b FROM clinical.visits\s+dr-oncall \[breakglass\]\s+rego\s+allow: breakglass-read, statement-data\s+deny: breakglass-no-visits/);
    expect(text).toContain('audited 3×');
    expect(text).toContain('warnings:');
    expect(text.trimEnd().split('\n').at(-1)).toBe('12 inputs evaluated, 2 changed (rego 2, cedar 1)');
  });

  it('markdown: an input | base | head table with pipes escaped', () => {
    const md = renderDiff(report, 'markdown');
    expect(md).toContain('| input | base | head |');
    expect(md).toContain('| **agent reads patients**<br>agent-7 [agents] · rego, cedar · case policy-tests/clinical.yaml:6<br>`SELECT phone FROM clinical.patients` | mask: clinical-read-masked | mask: clinical-read-masked<br>mask clinical.patients.phone last4 → unmasked |');
    expect(md).toContain('`SELECT a \\| b FROM clinical.visits`');
    for (const row of md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| input'))) {
      expect(row.replaceAll('\\|', '').split('|')).toHaveLength(5);
    }
  });

  it('json: one document with the counts and every change', () => {
    const doc = JSON.parse(renderDiff(report, 'json')) as { summary: string; changes: Array<{ what: string; who: string }> };
    expect(doc.summary).toBe(summaryLine(report));
    expect(doc.changes.map((c) => [c.what, c.who])).toEqual([
      ['agent reads patients', 'agent-7 [agents]'],
      ['SELECT a | b FROM clinical.visits', 'dr-oncall [breakglass]'],
    ]);
  });
});

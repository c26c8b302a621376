import { describe, expect, it } from 'vitest';
import { formatGithubAnnotations } from './report-github.ts';
import { formatJunitReport } from './report-junit.ts';
import { formatTextReport } from './report-text.ts';
import type { PolicyTestReport } from './types.ts';

const REPORT: PolicyTestReport = {
  ok: false,
  root: '/repo',
  suites: [
    {
      name: 'cases rego',
      results: [
        { name: 'fine', file: 'policy-tests/a.yaml', line: 3, status: 'passed', durationMs: 1.5 },
        { name: 'quotes "&" <tags>, commas', file: 'policy-tests/a.yaml', line: 9, status: 'failed', message: 'first line 100%\nsecond: ]]> \u0001 done', durationMs: 2 },
      ],
    },
    { name: 'opa build policies/rego', results: [{ name: 'compile to WebAssembly', status: 'error', message: 'opa missing', durationMs: 0 }] },
  ],
};

describe('reporters', () => {
  it('text: counts per suite, only failures listed, with their message', () => {
    const text = formatTextReport(REPORT);
    expect(text).toContain('✗ cases rego: 1 passed, 1 failed');
    expect(text).toContain('    ✗ quotes "&" <tags>, commas (policy-tests/a.yaml:9)');
    expect(text).toContain('        second: ]]>');
    expect(text).not.toContain('✗ fine');
    expect(text).toContain('✗ compile to WebAssembly [error]');
    expect(text.trimEnd().split('\n').at(-1)).toBe('policy tests FAILED: 1 passed, 1 failed, 1 error');
  });

  it('JUnit: counts, escaping, failure and error elements', () => {
    const xml = formatJunitReport(REPORT, { timestamp: new Date('2026-01-02T03:04:05Z') });
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="gatehouse policy test" tests="3" failures="1" errors="1"')).toBe(true);
    expect(xml).toContain('<testsuite name="cases rego" tests="2" failures="1" errors="0" skipped="0" time="0.004" timestamp="2026-01-02T03:04:05">');
    expect(xml).toContain('<testcase name="fine" classname="policy-tests/a.yaml" file="policy-tests/a.yaml" line="3" time="0.002"/>');
    expect(xml).toContain('name="quotes &quot;&amp;&quot; &lt;tags&gt;, commas"');
    expect(xml).toContain('<failure message="first line 100%" type="failed">first line 100%\nsecond: ]]&gt; \uFFFD done</failure>');
    expect(xml).toContain('<testcase name="compile to WebAssembly" classname="opa build policies/rego" time="0.000">');
    expect(xml).toContain('<error message="opa missing" type="error">opa missing</error>');
    expect(xml).not.toMatch(/[\u0000-\u0008]/);
  });

  it('GitHub: one ::error per failure, paths relative to the workspace, properties and data escaped', () => {
    const out = formatGithubAnnotations(REPORT, { workspace: '/' });
    expect(out.split('\n').filter((l) => l !== '')).toEqual([
      '::error file=repo/policy-tests/a.yaml,line=9,title=cases rego%3A quotes "&" <tags>%2C commas::first line 100%25%0Asecond: ]]> \u0001 done',
      '::error title=opa build policies/rego%3A compile to WebAssembly::opa missing',
    ]);
    expect(formatGithubAnnotations({ ok: true, root: '/repo', suites: [] })).toBe('');
  });
});

// The human-readable summary: one line per suite with its counts, then every failure with where it is
// and what was expected against what the policy decided.

import { warningText } from '../review-warnings.ts';
import { countResults, countsText } from './counts.ts';
import type { PolicyTestReport, PolicyTestResult } from './types.ts';

export function formatTextReport(report: PolicyTestReport): string {
  const lines: string[] = [];
  for (const suite of report.suites) {
    const counts = countResults(suite.results);
    const mark = counts.failed + counts.error === 0 ? '✓' : '✗';
    lines.push(`${mark} ${suite.name}: ${countsText(counts)}`);
    for (const r of suite.results) {
      if (r.status === 'passed') continue;
      lines.push(`    ✗ ${r.name}${location(r)}${r.status === 'error' ? ' [error]' : ''}`);
      for (const line of (r.message ?? '').split('\n')) if (line.trim() !== '') lines.push(`        ${line}`);
    }
  }
  for (const w of report.warnings ?? []) lines.push(`warning: ${warningText(w)}`);
  const all = countResults(report.suites.flatMap((s) => s.results));
  lines.push('');
  lines.push(report.ok ? `policy tests passed: ${countsText(all)}` : `policy tests FAILED: ${countsText(all)}`);
  return `${lines.join('\n')}\n`;
}

function location(r: PolicyTestResult): string {
  if (r.file === undefined) return '';
  return ` (${r.file}${r.line === undefined ? '' : `:${r.line}`})`;
}

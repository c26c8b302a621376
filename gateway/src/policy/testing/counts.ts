// Counting results by status, shared by the reporters.

import type { PolicyTestResult, PolicyTestStatus } from './types.ts';

export type StatusCounts = Record<PolicyTestStatus, number> & { total: number };

export function countResults(results: readonly PolicyTestResult[]): StatusCounts {
  const counts: StatusCounts = { passed: 0, failed: 0, error: 0, total: results.length };
  for (const r of results) counts[r.status] += 1;
  return counts;
}

/** "12 passed, 1 failed, 1 error" (zero counts left out; "no tests" when empty). */
export function countsText(c: StatusCounts): string {
  const parts: string[] = [];
  if (c.passed > 0) parts.push(`${c.passed} passed`);
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.error > 0) parts.push(`${c.error} ${c.error === 1 ? 'error' : 'errors'}`);
  return parts.length === 0 ? 'no tests' : parts.join(', ');
}

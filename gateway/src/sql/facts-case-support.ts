// Test support: table-driven expectations on one statement's facts (used by the *.test.ts here).
import { expect } from 'vitest';
import type { CopyFacts, StatementFacts, StatementKind } from './facts.ts';
import { analyzeQueryUncached } from './parser.ts';

/** Only the fields given are checked; table lists and column lists compare as sets. */
export interface FactsCase {
  sql: string;
  searchPath?: string[];
  kind?: StatementKind;
  command?: string;
  read?: string[];
  written?: string[];
  columns?: Record<string, string[]>;
  functions?: string[];
  hasWhere?: boolean;
  hasLimit?: boolean;
  writes?: boolean;
  cteWrites?: boolean;
  explainAnalyze?: boolean;
  innerKind?: StatementKind | null;
  preparedName?: string | null;
  copy?: CopyFacts | null;
  setting?: string | null;
}

export function onlyFacts(sql: string, searchPath?: string[]): StatementFacts {
  const outcome = analyzeQueryUncached(sql, searchPath === undefined ? undefined : { searchPath });
  if (!outcome.ok) throw new Error(`unexpected parse error: ${outcome.error}`);
  expect(outcome.statements).toHaveLength(1);
  const first = outcome.statements[0];
  if (first === undefined) throw new Error('no statement');
  return first.facts;
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

export function checkCase(c: FactsCase): void {
  const f = onlyFacts(c.sql, c.searchPath);
  if (c.kind !== undefined) expect(f.kind).toBe(c.kind);
  if (c.command !== undefined) expect(f.command).toBe(c.command);
  if (c.read !== undefined) expect(sorted(f.tablesRead.map((t) => t.qualified))).toEqual(sorted(c.read));
  if (c.written !== undefined) expect(sorted(f.tablesWritten.map((t) => t.qualified))).toEqual(sorted(c.written));
  if (c.columns !== undefined) {
    const actual = Object.fromEntries(Object.entries(f.columns).map(([k, v]) => [k, sorted(v)]));
    const wanted = Object.fromEntries(Object.entries(c.columns).map(([k, v]) => [k, sorted(v)]));
    expect(actual).toEqual(wanted);
  }
  if (c.functions !== undefined) expect(sorted(f.functions)).toEqual(sorted(c.functions));
  for (const key of ['hasWhere', 'hasLimit', 'writes', 'cteWrites', 'explainAnalyze', 'innerKind', 'preparedName', 'setting'] as const) {
    if (c[key] !== undefined) expect(f[key], key).toBe(c[key]);
  }
  if (c.copy !== undefined) expect(f.copy).toEqual(c.copy);
}

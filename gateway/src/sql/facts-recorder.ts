// Accumulates the tables, columns and functions found while walking one statement.
import type { TableRef } from './facts.ts';

/** A relation named outside FROM is either read or a target ('write'). */
export type TargetMode = 'read' | 'write';

export interface RecordedFacts {
  tablesRead: TableRef[];
  tablesWritten: TableRef[];
  columns: Record<string, string[]>;
  functions: string[];
}

/** De-duplicating sets keyed by TableRef.qualified; first occurrence wins, order kept. */
export class FactsRecorder {
  private readonly read = new Map<string, TableRef>();
  private readonly written = new Map<string, TableRef>();
  private readonly cols = new Map<string, Set<string>>();
  private readonly funcs = new Set<string>();

  constructor(readonly searchPath: readonly string[]) {}

  table(ref: TableRef, mode: TargetMode): void {
    const into = mode === 'write' ? this.written : this.read;
    if (!into.has(ref.qualified)) into.set(ref.qualified, ref);
  }

  column(table: TableRef, column: string): void {
    let set = this.cols.get(table.qualified);
    if (set === undefined) this.cols.set(table.qualified, (set = new Set()));
    set.add(column);
  }

  func(name: string): void {
    this.funcs.add(name);
  }

  result(): RecordedFacts {
    const columns: Record<string, string[]> = {};
    for (const [table, names] of this.cols) columns[table] = [...names].sort();
    return {
      tablesRead: [...this.read.values()],
      tablesWritten: [...this.written.values()],
      columns,
      functions: [...this.funcs],
    };
  }
}

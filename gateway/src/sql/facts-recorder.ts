// Accumulates the tables, columns, functions, operators and types found while walking one statement.
import type { TableRef, WrittenName } from './facts.ts';

/** A relation named outside FROM is either read or a target ('write'). */
export type TargetMode = 'read' | 'write';

export interface RecordedFacts {
  tablesRead: TableRef[];
  tablesWritten: TableRef[];
  columns: Record<string, string[]>;
  functions: string[];
  operators: WrittenName[];
  types: WrittenName[];
}

/** De-duplicating sets keyed by TableRef.qualified; first occurrence wins, order kept. */
export class FactsRecorder {
  private readonly read = new Map<string, TableRef>();
  private readonly written = new Map<string, TableRef>();
  private readonly cols = new Map<string, Set<string>>();
  private readonly funcs = new Set<string>();
  private readonly ops = new Map<string, WrittenName>();
  private readonly typeNames = new Map<string, WrittenName>();

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

  operator(name: WrittenName): void {
    remember(this.ops, name);
  }

  type(name: WrittenName): void {
    remember(this.typeNames, name);
  }

  result(): RecordedFacts {
    const columns: Record<string, string[]> = {};
    for (const [table, names] of this.cols) columns[table] = [...names].sort();
    return {
      tablesRead: [...this.read.values()],
      tablesWritten: [...this.written.values()],
      columns,
      functions: [...this.funcs],
      operators: [...this.ops.values()],
      types: [...this.typeNames.values()],
    };
  }
}

/** Keyed by schema and name (an identifier is never empty, so '' stands for no schema). */
function remember(into: Map<string, WrittenName>, name: WrittenName): void {
  const key = `${name.schema ?? ''}\u0000${name.name}`;
  if (!into.has(key)) into.set(key, name);
}

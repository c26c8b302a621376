// Accumulates what the column-use walk finds: hidden uses of table columns (de-duplicated),
// operations on columns and calls in output expressions, and the routines a statement names.
import type { Carried } from './column-lineage.ts';
import type { ColumnUse, ComputedOutput, FunctionUse, OutputCall, RoutineName, StatementUses, UseTest } from './column-uses.ts';

export function routineName(names: readonly string[]): RoutineName | null {
  const name = names[names.length - 1];
  if (name === undefined) return null;
  return { schema: names.length >= 2 ? (names[names.length - 2] ?? null) : null, name };
}

export class UseRecorder {
  private readonly hidden = new Map<string, ColumnUse>();
  private readonly computedOutputs = new Map<string, ComputedOutput>();
  private readonly outputCalls = new Map<string, OutputCall>();
  private readonly outputFields = new Map<string, OutputCall>();
  private readonly functions = new Map<string, FunctionUse>();
  private readonly fields = new Set<string>();
  private readonly operators = new Map<string, RoutineName>();
  private readonly types = new Map<string, RoutineName>();

  /**
   * Records each carried column as used in `clause`. `group` and `equal` hold only for a plain
   * column (and, for `equal`, plain peers); anything else is recorded as `other`.
   */
  use(carried: Carried, clause: string, test: UseTest, peers: Carried | null = null): void {
    const peerNames = peers === null ? [] : peers.values().map(({ table, column }) => ({ table, column }));
    const peersPlain = peers !== null && peers.size > 0 && peers.values().every((p) => p.plain);
    for (const c of carried.values()) {
      const t: UseTest = c.plain && (test === 'group' || (test === 'equal' && peersPlain)) ? test : 'other';
      const use: ColumnUse = { table: c.table, column: c.column, clause, test: t, peers: t === 'equal' ? peerNames : [] };
      const key = JSON.stringify([use.table, use.column, use.clause, use.test, use.peers]);
      if (!this.hidden.has(key)) this.hidden.set(key, use);
    }
  }

  /**
   * An operation applied to the carried columns in an output expression. The walk is bottom-up,
   * so the first operation recorded for a column is the innermost one applied to it.
   */
  computed(carried: Carried, operation: string): void {
    for (const { table, column } of carried.values()) {
      const key = JSON.stringify([table, column]);
      if (!this.computedOutputs.has(key)) this.computedOutputs.set(key, { table, column, operation });
    }
  }

  /** `p.f` in an output expression: function f of the whole row p, if p has no column f. */
  outputField(name: string, row: Carried): void {
    const call: OutputCall = { function: { schema: null, name }, columns: row.values().map(({ table, column }) => ({ table, column })) };
    this.outputFields.set(JSON.stringify(call), call);
  }

  /** A function called in an output expression with the columns its arguments carry. */
  outputCall(name: RoutineName, carried: Carried): void {
    const call: OutputCall = { function: name, columns: carried.values().map(({ table, column }) => ({ table, column })) };
    this.outputCalls.set(JSON.stringify(call), call);
  }

  /** A function call; column notation holds only if every call of that name has that shape. */
  func(name: RoutineName, columnNotation: boolean): void {
    const key = `${name.schema ?? ''}.${name.name}`;
    const seen = this.functions.get(key);
    this.functions.set(key, { ...name, columnNotation: columnNotation && (seen?.columnNotation ?? true) });
  }

  field(name: string): void {
    this.fields.add(name);
  }

  operator(names: readonly string[] | null): void {
    add(this.operators, names);
  }

  type(names: readonly string[] | null): void {
    add(this.types, names);
  }

  result(): StatementUses {
    return {
      hidden: [...this.hidden.values()],
      computed: [...this.computedOutputs.values()],
      outputCalls: [...this.outputCalls.values()],
      outputFields: [...this.outputFields.values()],
      functions: [...this.functions.values()],
      fields: [...this.fields],
      operators: [...this.operators.values()],
      types: [...this.types.values()],
    };
  }
}

function add(into: Map<string, RoutineName>, names: readonly string[] | null): void {
  const r = names === null ? null : routineName(names);
  if (r !== null) into.set(`${r.schema ?? ''}.${r.name}`, r);
}

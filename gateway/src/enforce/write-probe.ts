// How the identity reads the tables a write touches without naming them as read: an INSERT's target
// (not read in the policy input unless it has RETURNING) and the tables its foreign keys look values
// up in. The decision point asks the policy once more with those tables added to tables_read (the
// "read probe"); the answer says which columns the write's constraint checks compare with masked
// values (enforce/existence-oracles.ts) and whether its errors may quote stored values of a table
// with masked columns (their detail is then withheld, pg/upstream-relay.ts).

import { GatehouseError } from '../errors.ts';
import type { Decision, EngineVerdict, MaskStrategy, PolicyInput } from '../policy/types.ts';
import { EVAL_BUDGET_POLICY_ID, type BudgetedVerdict } from '../policy/evaluate.ts';
import { existenceOracle, type ReadMasksOf, type TableReadMasks } from './existence-oracles.ts';
import type { RelationCatalog } from './relation-catalog.ts';

/** The policy's answer for the probed tables. */
export interface ReadProbe {
  tables: string[];
  /** `read`: the identity may read them (with `masks`); `denied`: it may not read one of them; `failed`: no answer (engine error, budget). */
  outcome: 'read' | 'denied' | 'failed';
  masks: Array<{ table: string; column: string; strategy: MaskStrategy }>;
}

/** What the probe needs of a decided statement. */
export interface ProbedStatement {
  text: string;
  input: PolicyInput | null;
  decision: Decision;
  probe?: ReadProbe;
}

/**
 * The tables a write touches: its targets, the tables their foreign keys (and those of their
 * partitions and inheritance children) reference, and the tables whose foreign keys reference them (a
 * DELETE or a key update fails when a row there points at the row, and a foreign key action writes
 * there). Empty for a statement that writes nothing.
 */
export function touchedTables(input: PolicyInput, relations: RelationCatalog | null): string[] {
  const out = new Set<string>();
  for (const t of input.statement.tables_written) {
    out.add(t);
    const rel = relations?.get(t) ?? null;
    for (const member of rel === null ? [] : [rel, ...relations!.descendants(t)]) {
      for (const fk of member.foreignKeys ?? []) out.add(fk.table);
      for (const k of member.keys ?? []) if (k.kind === 'referenced' && k.from !== undefined) out.add(k.from);
    }
  }
  return [...out];
}

/** The tables a write touches that its policy input does not list as read: the read probe asks about them. */
export function probeTables(input: PolicyInput, relations: RelationCatalog | null): string[] {
  if (input.statement.tables_written.length === 0) return []; // a read touches nothing more (two Sets spared per statement)
  const read = new Set(input.statement.tables_read);
  return touchedTables(input, relations).filter((t) => !read.has(t));
}

/** The input asking how the identity reads `tables` too. */
export function probeInput(input: PolicyInput, tables: readonly string[]): PolicyInput {
  return { ...input, statement: { ...input.statement, tables_read: [...input.statement.tables_read, ...tables] } };
}

/** The probe's answer from its verdict. */
export function readProbe(tables: string[], answer: BudgetedVerdict | null): ReadProbe {
  const verdict: EngineVerdict | null = answer?.verdict ?? null;
  const failed = verdict === null || answer!.transient || verdict.policies[0] === EVAL_BUDGET_POLICY_ID;
  const masks = (verdict?.masks ?? []).filter((m) => tables.includes(m.table)).map(({ table, column, strategy }) => ({ table, column, strategy }));
  return { tables, outcome: failed ? 'failed' : verdict.action === 'deny' ? 'denied' : 'read', masks };
}

/** How the identity reads `table` for this statement: its decision's masks and the probe's. */
export function readMasksOf(s: ProbedStatement): ReadMasksOf {
  return (table: string): TableReadMasks => {
    if (s.probe?.outcome === 'failed' && s.probe.tables.includes(table)) return 'unknown';
    const masks = new Map<string, MaskStrategy>();
    for (const m of [...s.decision.masks, ...(s.probe?.masks ?? [])]) if (m.table === table) masks.set(m.column, m.strategy);
    return masks;
  };
}

/**
 * Whether a table the write touches has columns masked for the identity (or is one it may not read,
 * or whose reading the policy could not decide): its errors and notices may quote stored values.
 * Touched: the tables it writes, and those its constraint checks and foreign key actions reach (a
 * cascade `ON DELETE SET DEFAULT` into a key over a masked column quotes it, R10-8).
 */
export function writesMaskedTable(s: ProbedStatement, relations: RelationCatalog | null): boolean {
  if (s.input === null || s.input.statement.tables_written.length === 0) return false;
  if (s.probe !== undefined && s.probe.outcome !== 'read') return true;
  const masks = readMasksOf(s);
  return touchedTables(s.input, relations).some((t) => {
    const m = masks(t);
    return m === 'unknown' || m.size > 0;
  });
}

/** Whether any table the write touches may have masked columns: its decision or its probe names masks, or the probe failed. */
export function maySeeMasks(s: ProbedStatement): boolean {
  if ((s.input?.statement.tables_written ?? []).length === 0) return false;
  return s.decision.masks.length > 0 || (s.probe !== undefined && (s.probe.masks.length > 0 || s.probe.outcome === 'failed'));
}

/** The refusal (42501) of the first statement that would be an existence oracle on a masked column, or null. */
export function existenceRefusal(statements: readonly ProbedStatement[], searchPath: readonly string[], relations: RelationCatalog | null): GatehouseError | null {
  for (const s of statements) {
    if (s.decision.action === 'deny' || !maySeeMasks(s)) continue;
    const masks = readMasksOf(s);
    if (relations === null) {
      return new GatehouseError('MASKED_COLUMN_READ', "Gatehouse does not run this write yet: it writes a table with columns masked for you, and Gatehouse has not read the database's constraints", {
        decisionId: s.decision.id,
        hint: 'Try again in a moment.',
      });
    }
    for (const t of s.input?.statement.tables_written ?? []) {
      const m = masks(t);
      if (relations.get(t) === null && (m === 'unknown' || m.size > 0)) {
        return new GatehouseError('MASKED_COLUMN_READ', `Gatehouse does not run this write yet: it does not know the constraints of ${t}, which has columns masked for you`, {
          decisionId: s.decision.id,
          hint: 'Try again in a moment.',
        });
      }
    }
    const refusal = existenceOracle(s.text, searchPath, relations, masks);
    if (refusal !== null) return new GatehouseError('MASKED_COLUMN_READ', refusal.message, { decisionId: s.decision.id, hint: refusal.hint });
  }
  return null;
}

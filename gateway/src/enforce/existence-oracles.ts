// Existence oracles through constraints: a write (INSERT, UPDATE, MERGE, COPY FROM) whose constraint
// check compares a value it assigns with the stored values of a column the identity reads masked
// learns whether that value exists, from the SQLSTATE alone (23505 unique, 23P01 exclusion, 23503
// foreign key) or from an `ON CONFLICT DO NOTHING` row count; so does a DELETE or key update that a
// masked referencing column may block (23503). Such a write counts as a read of that column and is
// refused (42501), as a WHERE on it is (enforce/write-target.ts). The target's partitions and inheritance
// children, the tables its rules reach and the tables its foreign key actions write count as written
// (red-team round 10); an update tested by a CHECK over a masked column it keeps likewise (check-oracles.ts,
// R21a-1). A generated column is assigned with, and masked as, the columns it is computed from
// (generated-masks.ts, R21a-2). Constraints come from the relation snapshot.

import { parseSync } from 'libpg-query';
import type { MaskStrategy } from '../policy/types.ts';
import { bodyOf, list, str, stringValue, type AstBody } from '../sql/ast.ts';
import { relationRefs, type RelationRef } from '../sql/relation-refs.ts';
import { searchOrder } from '../sql/table-ref.ts';
import type { KeyConstraint, RelationCatalog, RelationInfo } from './relation-catalog.ts';
import { ALL_COLUMNS, assignedColumns, type WriteKind } from './write-assignments.ts';
import { checkOracle, policyReadOracle } from './check-oracles.ts';
import { throughGenerated } from './generated-masks.ts';

/**
 * How the identity reads a table: the strategies of its masked columns (empty: none masked), or
 * `unknown` when the policy could not tell (every column then counts as masked).
 */
export type TableReadMasks = ReadonlyMap<string, MaskStrategy> | 'unknown';

/** Looks up how the identity reads a table ("schema.name"). */
export type ReadMasksOf = (table: string) => TableReadMasks;

export interface OracleRefusal {
  message: string;
  hint: string;
}

const WRITE_KINDS = new Set<string>(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

const HINT =
  'Leave masked columns that have a unique index, an exclusion constraint or a foreign key out of what a write assigns (and name a conflict target without them), or ask for a policy under which you read them unmasked.';

/** Why the write `text` (one statement) would be an existence oracle on a masked column, or null. */
export function existenceOracle(text: string, searchPath: readonly string[], relations: RelationCatalog, readMasks: ReadMasksOf): OracleRefusal | null {
  let stmts: Array<{ stmt?: unknown }>;
  try {
    stmts = (parseSync(text) as { stmts?: Array<{ stmt?: unknown }> }).stmts ?? [];
  } catch {
    return null; // the decision point refuses what does not parse
  }
  const order = searchOrder(searchPath);
  for (const s of stmts) {
    for (const ref of relationRefs(s.stmt).relations) {
      const copyFrom = ref.position === 'copy' && ref.copy?.['is_from'] === true;
      if (!copyFrom && (ref.position !== 'target' || !ref.write)) continue;
      const refusal = targetOracle(ref, order, relations, readMasks);
      if (refusal !== null) return refusal;
    }
  }
  return null;
}

/** The write statement a target or COPY FROM reference belongs to, or null. */
function writeKind(ref: RelationRef): WriteKind | 'CopyStmt' | null {
  if (ref.position === 'copy') return 'CopyStmt';
  const kind = ref.path[ref.path.length - 2];
  return typeof kind === 'string' && WRITE_KINDS.has(kind) ? (kind as WriteKind) : null;
}

function targetOracle(ref: RelationRef, order: readonly string[], relations: RelationCatalog, readMasks: ReadMasksOf): OracleRefusal | null {
  const kind = writeKind(ref);
  if (kind === null) return null;
  const relname = str(ref.rangeVar, 'relname');
  if (relname === null) return null;
  const schema = str(ref.rangeVar, 'schemaname');
  const rel = schema === null ? relations.resolve(relname, order) : relations.get(`${schema}.${relname}`);
  if (rel === null) return null; // not a table PostgreSQL knows either, or not yet in the snapshot (see the decision point)
  // A write to a parent reaches the rows of its partitions and inheritance children (unless ONLY), and
  // their own indexes and foreign keys check what it writes there (R10-2). (`inh` is absent for ONLY.)
  const family = ref.rangeVar['inh'] !== true ? [rel] : [rel, ...relations.descendants(rel.qualified)];
  let assigned: Set<string>;
  if (kind === 'CopyStmt') {
    // COPY t [(columns)] FROM: the rows fill those columns, or every column.
    const named = list(ref.copy!, 'attlist').map(stringValue);
    assigned = new Set(named.length === 0 || named.some((c) => c === null) ? [ALL_COLUMNS] : (named as string[]));
  } else {
    for (const member of family) {
      const conflict = conflictRefusal(member, ref.write!, member.keys ?? [], maskedColumns(member, readMasks));
      if (conflict !== null) return conflict;
    }
    assigned = assignedColumns(kind, ref.write!, rel.columns.map((c) => c.name));
  }
  const isAssigned = (c: string): boolean => assigned.has(ALL_COLUMNS) || assigned.has(c);
  // An update of a partition key column moves the row, every column of it, into another partition,
  // whose keys then compare its masked values too (R10-9).
  const moves = updatesRows(kind, ref.write ?? null) && family.some((m) => (m.partitionKey ?? []).some((c) => (c === '*' ? assigned.size > 0 : isAssigned(c))));
  for (const member of family) {
    // Assigning a column assigns the generated columns computed from it (R21a-2). A CHECK relating a
    // column the update assigns to a masked one it keeps tests the stored value (R21a-1).
    const assigns = throughGenerated(member, isAssigned);
    const replaces = kind === 'UpdateStmt' ? assigns : () => false;
    const refusal =
      memberOracle(member, kind, ref.write ?? null, moves && member !== rel ? () => true : assigns, relations, readMasks) ??
      (updatesRows(kind, ref.write ?? null) ? checkOracle(member, assigns, replaces, maskedColumns(member, readMasks)) : null) ??
      policyReadOracle(member, (t) => hasMasks(t, relations, readMasks));
    if (refusal !== null) return refusal;
  }
  return ruleOracle(rel, readMasks);
}

/** Why writing `rel` (the target, or a partition or child it reaches) with these assignments is an oracle, or null. */
function memberOracle(
  rel: RelationInfo,
  kind: WriteKind | 'CopyStmt',
  write: AstBody | null,
  isAssigned: (c: string) => boolean,
  relations: RelationCatalog,
  readMasks: ReadMasksOf,
): OracleRefusal | null {
  const masked = maskedColumns(rel, readMasks);
  const keys = rel.keys ?? [];
  // A key over several columns compares all of them: assigning any one compares the stored values of
  // its masked ones too (UNIQUE (room, guest): moving a row into another room fails when that room
  // holds the same guest, R10-1).
  for (const key of keys) {
    if (!key.columns.some(isAssigned)) continue;
    const column = key.columns.find(masked);
    if (column !== undefined) {
      return {
        message: `Gatehouse does not run this write: it assigns ${describeColumns(key.columns.filter(isAssigned))} of ${rel.qualified}, and ${describe(key)} compares it with the stored values of column "${column}", which the policy masks for you, so whether the write fails would tell whether the value is already stored (an existence oracle)`,
        hint: HINT,
      };
    }
  }
  // A DELETE (or MERGE ... DELETE), or an update of a referenced key, fails with 23503 when a row of
  // the referencing table points at the row: an oracle on the referencing columns when they are masked.
  const removes = kind === 'DeleteStmt' || (kind === 'MergeStmt' && write !== null && mergeDeletes(write));
  const updates = updatesRows(kind, write);
  for (const key of keys) {
    if (key.kind !== 'referenced' || key.from === undefined || !(removes || (updates && key.columns.some(isAssigned)))) continue;
    const from = relations.get(key.from);
    const referencingMasked = from === null ? () => true : maskedColumns(from, readMasks);
    const referencing = key.referencing ?? key.columns;
    const column = referencing.find(referencingMasked);
    if (column !== undefined) {
      return {
        message: `Gatehouse does not run this write: it ${removes ? 'deletes rows' : 'changes referenced keys'} of ${rel.qualified}, which foreign key ${key.name} of ${key.from} references through column "${column}", which the policy masks for you, so whether the write fails would tell whether a row there holds the value (an existence oracle)`,
        hint: HINT,
      };
    }
    // The foreign key's action (CASCADE, SET NULL, SET DEFAULT) assigns the referencing columns: a key of
    // the referencing table over them and a masked column compares its stored values (R10-8).
    const cascaded = from === null ? undefined : (from.keys ?? []).find((k) => k.kind !== 'referenced' && k.columns.some((c) => referencing.includes(c)) && k.columns.some(referencingMasked));
    if (cascaded !== undefined) {
      return {
        message: `Gatehouse does not run this write: it ${removes ? 'deletes rows' : 'changes referenced keys'} of ${rel.qualified}, and the action of foreign key ${key.name} may assign rows of ${key.from} under ${describe(cascaded)}, which covers column "${cascaded.columns.find(referencingMasked)}", which the policy masks for you, so whether the write fails would tell whether a value is stored there (an existence oracle)`,
        hint: HINT,
      };
    }
  }
  for (const fk of rel.foreignKeys ?? []) {
    if (!fk.columns.some(isAssigned)) continue;
    const target = relations.get(fk.table);
    const referencedMasked = target === null ? () => true : maskedColumns(target, readMasks);
    const column = fk.referenced.find(referencedMasked);
    if (column !== undefined) {
      return {
        message: `Gatehouse does not run this write: it assigns ${describeColumns(fk.columns)} of ${rel.qualified}, whose foreign key ${fk.name} looks the value up in column "${column}" of ${fk.table}, which the policy masks for you, so whether the write fails would tell whether the value is stored there (an existence oracle)`,
        hint: HINT,
      };
    }
  }
  return null;
}

/**
 * A table with rules (or a view) may turn the write into one on the tables its rules name, whose
 * constraints then check what it writes (`DO INSTEAD INSERT INTO clinical.patients ...`, R10-7): refused
 * when one of them has columns masked for the identity, or when the table itself has (its rules run on
 * its rows raw, R17a-4). (A view over a masked table is refused by the mask rewrite too.)
 */
function ruleOracle(rel: RelationInfo, readMasks: ReadMasksOf): OracleRefusal | null {
  if (rel.rules === true) {
    // Rules of the written table itself run on its stored rows raw (R17a-4): `DO ALSO SELECT secret
    // FROM t WHERE id = NEW.id` returns them to the client, and `OLD.secret` reaches any action.
    const own = readMasks(rel.qualified);
    if (own === 'unknown' || own.size > 0) {
      return {
        message: `Gatehouse does not run this write: ${rel.qualified} has rules of its own, whose actions run on its stored rows raw (a SELECT in one returns them to you unmasked), and it has columns the policy masks for you`,
        hint: 'Ask the database owners to replace the rules (a view or a trigger the policy reviews), or for a policy under which you read the table unmasked.',
      };
    }
  }
  for (const table of rel.reads) {
    if (table === rel.qualified) continue;
    const masks = readMasks(table);
    if (masks !== 'unknown' && masks.size === 0) continue;
    return {
      message: `Gatehouse does not run this write: ${rel.qualified} has rules that reach ${table}, which has columns the policy masks for you, so whether the write fails would tell whether a value is stored there (an existence oracle)`,
      hint: 'Write the table the rules reach directly, or ask for a policy under which you read it unmasked.',
    };
  }
  return null;
}

function describeColumns(columns: readonly string[]): string {
  return columns.length === 1 ? `column "${columns[0]}"` : `columns ${columns.map((c) => `"${c}"`).join(', ')}`;
}

/**
 * `ON CONFLICT` without a conflict target takes every unique and exclusion constraint as arbiter, and
 * `ON CONFLICT ON CONSTRAINT k` takes k: over a masked column, the row count (0 or 1) tells whether a
 * conflicting value is stored. A target naming columns is refused by the mask rewrite when it names a
 * masked one (enforce/write-target.ts).
 */
function conflictRefusal(rel: RelationInfo, write: AstBody, keys: readonly KeyConstraint[], masked: (c: string) => boolean): OracleRefusal | null {
  const conflict = bodyOf(write['onConflictClause'], 'OnConflictClause');
  if (conflict === null) return null;
  const infer = bodyOf(conflict['infer'], 'InferClause');
  const named = infer === null ? null : str(infer, 'conname');
  if (infer !== null && named === null) return null;
  const arbiters = keys.filter((k) => k.kind !== 'referenced' && (named === null || k.name === named));
  for (const key of arbiters) {
    const column = key.columns.find(masked);
    if (column === undefined) continue;
    const clause = named === null ? 'ON CONFLICT without a conflict target' : `ON CONFLICT ON CONSTRAINT ${named}`;
    return {
      message: `Gatehouse does not run this write: its ${clause} checks ${describe(key)} over column "${column}" of ${rel.qualified}, which the policy masks for you, so the number of rows written would tell whether a value is already stored (an existence oracle)`,
      hint: HINT,
    };
  }
  return null;
}

/** Whether the write updates stored rows: UPDATE, MERGE, INSERT ... ON CONFLICT DO UPDATE. */
function updatesRows(kind: WriteKind | 'CopyStmt', write: AstBody | null): boolean {
  if (kind === 'UpdateStmt' || kind === 'MergeStmt') return true;
  return kind === 'InsertStmt' && write !== null && str(bodyOf(write['onConflictClause'], 'OnConflictClause') ?? {}, 'action') === 'ONCONFLICT_UPDATE';
}

/** Whether a MERGE has a DELETE action. */
function mergeDeletes(write: AstBody): boolean {
  return list(write, 'mergeWhenClauses').some((w) => str(bodyOf(w, 'MergeWhenClause') ?? {}, 'commandType') === 'CMD_DELETE');
}

/**
 * Whether a column of `rel` is masked for the identity: its own masks, or a masked ancestor's (a partition
 * holds the parent's rows); a generated column computed from a masked column is a copy of it (R21a-2).
 */
function maskedColumns(rel: RelationInfo, readMasks: ReadMasksOf): (column: string) => boolean {
  const all = [rel.qualified, ...rel.ancestors].map(readMasks);
  return throughGenerated(rel, (column) => all.some((m) => m === 'unknown' || m.has(column)));
}

/**
 * Whether `table` has columns masked for the identity, through its ancestors, partitions and children
 * or, for a view, the tables it reads; a table the snapshot does not know counts as masked.
 */
function hasMasks(table: string, relations: RelationCatalog, readMasks: ReadMasksOf): boolean {
  const rel = relations.get(table);
  if (rel === null) return true;
  const family = [rel, ...rel.reads.flatMap((r) => relations.get(r) ?? [])];
  const names = new Set(family.flatMap((r) => [r.qualified, ...r.ancestors, ...relations.descendants(r.qualified).map((d) => d.qualified)]));
  return [...names].some((t) => {
    const m = readMasks(t);
    return m === 'unknown' || m.size > 0;
  });
}

function describe(key: KeyConstraint): string {
  switch (key.kind) {
    case 'unique':
      return `unique index ${key.name}`;
    case 'exclusion':
      return `exclusion constraint ${key.name}`;
    case 'referenced':
      return `foreign key ${key.name} of ${key.from ?? 'another table'}`;
    default: {
      const never: never = key.kind;
      throw new Error(`unknown constraint kind ${String(never)}`);
    }
  }
}

// Masking at the source: before a statement under a mask is forwarded, every reference to a masked
// table is replaced, in the client's own text, by a derived table with the same columns in the same
// order, each masked column computed by its strategy. PostgreSQL then resolves names, filters,
// sorts, joins, groups and reports errors over masked values only. The forwarded text is re-parsed
// and must equal the client's statement with exactly those replacements (mask-rewrite-check.ts).

import { scanSync } from 'libpg-query';
import { closing, nameEnd, Tokens } from './rewrite-tokens.ts';
import type { DetectRule, MaskRule, MaskStrategy } from '../policy/types.ts';
import { MASK_STRENGTH } from '../policy/types.ts';
import { asNode, isObject, list, str, stringValue, type AstBody } from '../sql/ast.ts';
import { relationRefs, type ColumnUses, type RelationRef } from '../sql/relation-refs.ts';
import { searchOrder } from '../sql/table-ref.ts';
import { parsedStatements, statementTexts, type RawStatement } from '../sql/split.ts';
import { spliceBytes, type ByteSplice } from '../sql/byte-splice.ts';
import { checkRewrite, type Replacement } from './mask-rewrite-check.ts';
import { appliedThrough, mergeApplied, type AppliedMask, type TableMasks } from './mask-applied.ts';
import { needsMaskFunctions, quoteIdent } from './mask-expressions.ts';
import { derivedTable } from './derived-table.ts';
import { referenceMasks, type ReferenceMasks } from './reference-masks.ts';
import type { MaskFunctions, RelationCatalog, RelationInfo } from './relation-catalog.ts';
import { maskRoutineRefusal } from './mask-routines.ts';
import { partitionMembershipRefusal } from './partition-membership.ts';
import { withGeneratedMasksOf } from './generated-masks.ts';
import type { RewriteRefusal } from './rewrite-refusal.ts';

export type { RewriteRefusal } from './rewrite-refusal.ts';
import { maskedTargetReads, readsTableoid } from './write-target.ts';
import type { RoutineCatalog } from './routine-catalog.ts';

export interface RewriteRequest {
  /** The whole query string as the client sent it. */
  text: string;
  /** For each statement of `text` in order: the masks its decision applies (empty: none). */
  masks: readonly (readonly MaskRule[])[];
  /**
   * For each statement: the content detections its decision asks for (absent: none). A scanned
   * table is rewritten like a masked one, its scanned columns with identifiers replaced at the source.
   */
  detections?: readonly (readonly DetectRule[])[];
  /** The session's search path (as in decisions). */
  searchPath: readonly string[];
  relations: RelationCatalog | null;
  /** The database's routines, to refuse user-defined ones under a mask (null until loaded: fail closed). */
  routines: RoutineCatalog | null;
}


export type RewriteResult =
  | { kind: 'unchanged' }
  /**
   * `statements`: each statement's forwarded text; `applied`: per statement, the masks it applies
   * (mask-applied.ts); none for a statement that reads no masked column of the tables it reads.
   */
  | { kind: 'rewritten'; text: string; statements: string[]; applied: AppliedMask[][] }
  | { kind: 'refused'; refusal: RewriteRefusal };

/** Masks by table; a table under content detection only is there too, with no masked column. */
function indexMasks(masks: readonly MaskRule[], detections: readonly DetectRule[]): Map<string, TableMasks> {
  const out = new Map<string, Map<string, MaskStrategy>>();
  for (const d of detections) if (!out.has(d.table)) out.set(d.table, new Map());
  for (const m of masks) {
    let cols = out.get(m.table);
    if (!cols) out.set(m.table, (cols = new Map()));
    const held = cols.get(m.column);
    if (held === undefined || MASK_STRENGTH[m.strategy] > MASK_STRENGTH[held]) cols.set(m.column, m.strategy);
  }
  return out;
}

const refused = (message: string, hint: string): RewriteResult => ({ kind: 'refused', refusal: { message, hint } });

/** A `TABLE t` query: the parser gives its `*` target no location. */
function isTableCommand(select: AstBody | null): boolean {
  if (select === null) return false;
  const targets = list(select, 'targetList');
  if (targets.length !== 1) return false;
  const target = asNode(targets[0]);
  return target?.type === 'ResTarget' && target.body['location'] === -1;
}

/** Rewrites a query string for its statements' masks; see RewriteResult. */
export function rewriteForMasks(req: RewriteRequest): RewriteResult {
  if (req.masks.every((m) => m.length === 0) && (req.detections ?? []).every((d) => d.length === 0)) return { kind: 'unchanged' };
  const relations = req.relations;
  if (relations === null) {
    return refused(
      "Gatehouse does not run statements under a mask until it has read the database's tables, which it has not managed to yet",
      'Try again in a moment; if this persists, the Gatehouse operator should check its catalog connection to the database.',
    );
  }
  let stmts: RawStatement[];
  let tokens: Tokens;
  try {
    stmts = parsedStatements(req.text);
    tokens = new Tokens(scanSync(req.text).tokens);
  } catch {
    return refused('Gatehouse could not parse this statement to apply its masks', 'Check the SQL syntax.');
  }
  if (stmts.length !== req.masks.length) {
    return refused('Gatehouse could not match the statements of this query to their decisions', 'Send one statement per query.');
  }
  const order = searchOrder(req.searchPath);
  const splices: ByteSplice[] = [];
  const replacements: Replacement[][] = [];
  const applied: AppliedMask[][] = [];
  for (let s = 0; s < stmts.length; s++) {
    const detections = req.detections?.[s] ?? [];
    // A generated column over a masked column is masked too (R21a-2), also in the audit's applied masks.
    const masks = withGeneratedMasksOf(indexMasks(req.masks[s] ?? [], detections), relations);
    const done: Replacement[] = [];
    const stmtApplied: AppliedMask[] = [];
    replacements.push(done);
    applied.push(stmtApplied);
    if (masks.size === 0) continue;
    const stmtNode = asNode(stmts[s]!.stmt);
    if (stmtNode?.type === 'DoStmt') {
      return refused('Gatehouse does not run DO blocks while a mask applies: their SQL is not visible to it', 'Run the statements of the block one by one.');
    }
    const refs = relationRefs(stmts[s]!.stmt);
    const routine = maskRoutineRefusal(refs.routines, refs.fieldNames, req.routines);
    if (routine !== null) return { kind: 'refused', refusal: routine };
    const maskedNames = new Set([...masks.keys()].map((t) => t.slice(t.indexOf('.') + 1)));
    for (const name of refs.cteNames) {
      if (maskedNames.has(name)) {
        return refused(
          `Gatehouse does not run this statement while a mask applies: its WITH query "${name}" has the name of a masked table`,
          'Give the WITH query another name.',
        );
      }
    }
    for (const ref of refs.relations) {
      const outcome = planRelation(ref, { masks, detections, uses: refs.columns, maskedNames, cteNames: refs.cteNames, order, relations, tokens });
      if (outcome === null) continue;
      if ('message' in outcome) return { kind: 'refused', refusal: outcome };
      if ('unchanged' in outcome) continue;
      splices.push(outcome.splice);
      done.push(outcome.replacement);
      if (outcome.applies === undefined) continue;
      for (const [table, columns] of outcome.applies.byTable) mergeApplied(stmtApplied, appliedThrough(ref, table, columns, refs.columns));
    }
  }
  if (splices.length === 0) return { kind: 'unchanged' };
  const text = spliceBytes(req.text, splices);
  if (text === null) return refused('Gatehouse could not apply the masks of this statement (overlapping names)', 'Simplify the statement.');
  const check = checkRewrite(stmts.map((s) => s.stmt), text, replacements);
  if (check.kind === 'differs') {
    return refused(`Gatehouse could not apply the masks of this statement safely (${check.problem}), so it was not run`, 'Write the masked table reference more plainly (schema.table AS alias).');
  }
  return { kind: 'rewritten', text, statements: statementTexts(text, check.statements), applied };
}

interface PlanContext {
  masks: Map<string, TableMasks>;
  detections: readonly DetectRule[];
  uses: ColumnUses;
  maskedNames: Set<string>;
  cteNames: Set<string>;
  order: readonly string[];
  relations: RelationCatalog;
  tokens: Tokens;
}

/**
 * `unchanged`: a masked table named where it stays as it is (a write's target that reads no masked
 * column). `applies`: the masks a replacement applies (none for a pinned name).
 */
type Planned = { splice: ByteSplice; replacement: Replacement; applies?: ReferenceMasks } | { unchanged: true } | RewriteRefusal | null;

/**
 * Whether a reference reaches the rows of the relation's partitions and children too (R21a-3): a FROM
 * item, UPDATE, DELETE or MERGE target, or other name, unless ONLY (`inh` is absent then). An INSERT, and
 * `COPY t`, reach a partitioned table's partitions only: `COPY t TO` copies t's own rows (a partitioned
 * table's, which PostgreSQL refuses to copy, are its partitions': Gatehouse reads them through it), and an
 * INSERT or `COPY t FROM` into an inheritance parent stores its rows in the parent itself.
 */
function readsDescendants(ref: RelationRef, rel: RelationInfo): boolean {
  if (ref.position === 'copy' || (ref.position === 'target' && ref.path[ref.path.length - 2] === 'InsertStmt')) return rel.kind === 'partitioned_table';
  return ref.rangeVar['inh'] === true;
}

function planRelation(ref: RelationRef, ctx: PlanContext): Planned {
  const rv = ref.rangeVar;
  const relname = str(rv, 'relname');
  if (relname === null) return null;
  const schema = str(rv, 'schemaname');
  let rel: RelationInfo | null;
  if (schema !== null) {
    rel = ctx.relations.get(`${schema}.${relname}`);
  } else {
    if (ctx.cteNames.has(relname)) return null; // a WITH query (none is named like a masked table)
    rel = ctx.relations.resolve(relname, ctx.order);
  }
  if (rel === null && schema !== null && ctx.masks.has(`${schema}.${relname}`)) {
    // A masked table the snapshot does not hold yet (created since it was read): fail closed.
    return { message: `Gatehouse does not know the columns of masked table ${schema}.${relname} yet`, hint: 'Try again in a moment.' };
  }
  const maskedRefTo = rel ? referenceMasks(rel, ctx.masks, ctx.relations, readsDescendants(ref, rel)) : null;
  if (rel !== null && maskedRefTo === null && (rel.kind === 'view' || rel.kind === 'materialized_view')) {
    // A view reads the rows of the tables it names, and of their partitions and children (R21a-3).
    const family = (t: string): string[] => [t, ...(ctx.relations.get(t)?.ancestors ?? []), ...ctx.relations.descendants(t).map((d) => d.qualified)];
    const hidden = rel.reads.flatMap(family).find((t) => ctx.masks.has(t));
    if (hidden) {
      return {
        message: `Gatehouse does not run this statement while a mask applies: ${rel.kind === 'view' ? 'view' : 'materialized view'} ${rel.qualified} reads masked table ${hidden}`,
        hint: `Query ${hidden} directly: its masked columns are then masked.`,
      };
    }
  }
  if (maskedRefTo === null) {
    // Not masked. An unqualified name that a masked table also has is pinned to the relation it was
    // decided as, so that PostgreSQL cannot resolve it to the masked one instead.
    if (schema === null && rel !== null && ctx.maskedNames.has(relname) && ref.position !== 'other' && ref.position !== 'target') {
      const start = ctx.tokens.indexAt(numberOf(rv['location']));
      if (start < 0) return { message: 'Gatehouse could not locate a table name in this statement', hint: 'Qualify table names with their schema.' };
      const t = ctx.tokens.all[start]!;
      return {
        splice: { start: t.start, end: t.end, text: `${quoteIdent(rel.schema)}.${quoteIdent(rel.name)}` },
        replacement: { kind: 'qualify', path: ref.path, table: rel.qualified, schema: rel.schema },
      };
    }
    if (rel === null && schema === null && ctx.maskedNames.has(relname)) {
      return { message: `Gatehouse does not know the table "${relname}" yet, and a masked table has that name`, hint: 'Qualify the table name with its schema, or try again in a moment.' };
    }
    return null;
  }
  const target = rel!;
  // Per column, the strongest mask of any row read, generated columns included (reference-masks.ts rowMasks).
  const masks = maskedRefTo.strongest;
  const table = [...maskedRefTo.byTable.keys()].join(', ') || target.qualified;
  const membership = partitionMembershipRefusal(target, masks, ctx.relations);
  if (membership !== null) return membership;
  if (target.columns.length === 0) {
    return { message: `Gatehouse does not know the columns of masked table ${target.qualified} yet`, hint: 'Try again in a moment.' };
  }
  for (const [owner, columns] of maskedRefTo.byTable) {
    const strategy = [...columns.values()].find(needsMaskFunctions);
    if (strategy !== undefined && !ctx.relations.maskFunctions.hash) {
      return {
        message: `Gatehouse cannot apply the ${strategy} mask of ${owner}: the masking functions are not installed in this database`,
        hint: "The Gatehouse operator should run 'gatehouse db setup' for this database (docs/data-path.md, \"Where the hash key lives\").",
      };
    }
  }
  switch (ref.position) {
    case 'from':
      return planFrom(ref, target, maskedRefTo, table, ctx.tokens, ctx.detections, ctx.relations.maskFunctions);
    case 'copy':
      return planCopy(ref, target, maskedRefTo, table, ctx.tokens, ctx.detections, ctx.relations.maskFunctions);
    case 'target':
      return planTarget(ref, target, masks, table, ctx.uses);
    case 'other':
      return {
        message: `Gatehouse does not run this statement while a mask applies: it names ${target.qualified}, whose rows are masked for you (${table}), other than as a table to read from (a write, lock, or schema change)`,
        hint: 'Writes and changes to a table with masked columns are not run under a mask; read it with SELECT.',
      };
    default: {
      const never: never = ref.position;
      throw new Error(`unknown position ${String(never)}`);
    }
  }
}

function numberOf(v: unknown): number {
  return typeof v === 'number' ? v : -1;
}

function located(): RewriteRefusal {
  return { message: 'Gatehouse could not locate a masked table reference in this statement', hint: 'Write it as schema.table AS alias.' };
}

function planFrom(ref: RelationRef, rel: RelationInfo, masks: ReferenceMasks, table: string, tokens: Tokens, detections: readonly DetectRule[], functions: MaskFunctions): Planned {
  const rv = ref.rangeVar;
  const inherit = rv['inh'] === true;
  const first = tokens.indexAt(numberOf(rv['location']));
  if (first < 0) return located();
  let start = first;
  let end = nameEnd(tokens, first);
  if (!inherit) {
    // ONLY t, or ONLY (t)
    const before = tokens.prev(first);
    if (tokens.text(before) === '(' && tokens.upper(tokens.prev(before)) === 'ONLY') {
      const close = tokens.next(end);
      if (tokens.text(close) !== ')') return located();
      start = tokens.prev(before);
      end = close;
    } else if (tokens.upper(before) === 'ONLY') {
      start = before;
    } else {
      return located();
    }
  } else {
    const after = tokens.next(end);
    if (tokens.text(after) === '*') end = after; // `t *`: descendants included, as by default
  }
  const alias = isObject(rv['alias']) ? (rv['alias'] as AstBody) : null;
  const derived = derivedTable(rel, masks, inherit, detections, functions);
  const aliasText = alias === null ? ` AS ${quoteIdent(str(rv, 'relname') ?? rel.name)}` : '';
  let text = `${derived}${aliasText}`;
  const keyword = tokens.prev(start);
  if (isTableCommand(ref.select) && tokens.upper(keyword) === 'TABLE') {
    start = keyword;
    text = `SELECT * FROM ${text}`;
  }
  const aliasNode = alias ?? { aliasname: str(rv, 'relname') ?? rel.name };
  return {
    splice: { start: tokens.all[start]!.start, end: tokens.all[end]!.end, text: ` ${text} ` },
    replacement: { kind: 'from', path: ref.path, table, derived, alias: aliasNode },
    applies: masks,
  };
}

/**
 * The target of INSERT, UPDATE, DELETE or MERGE stays the table itself (PostgreSQL writes no derived
 * table), so a write that may read a masked column of it is refused (42501): masking its RETURNING
 * would need to know which relation each name there denotes, and its WHERE and SET values cannot be
 * given masked values without changing which rows it writes and what it stores.
 */
function planTarget(ref: RelationRef, rel: RelationInfo, masks: TableMasks, table: string, uses: ColumnUses): Planned {
  if (readsTableoid(masks, uses)) {
    return {
      code: 'MASKED_COLUMN_READ',
      message: `Gatehouse does not run this write: it reads tableoid of ${rel.qualified}, which tells which partition or child table holds each row, and so the values of a partition key the policy masks for you (${table})`,
      hint: 'Leave tableoid out of the write\'s WHERE and RETURNING while a mask applies.',
    };
  }
  const read = maskedTargetReads(ref, masks, uses);
  if (read.length === 0) return { unchanged: true };
  const what = read.includes('*') ? `every column of ${rel.qualified} (a star or a whole-row reference), masked columns included` : `${read.length === 1 ? 'column' : 'columns'} ${read.map((c) => `"${c}"`).join(', ')} of ${rel.qualified}`;
  return {
    code: 'MASKED_COLUMN_READ',
    message: `Gatehouse does not run this write: it reads ${what}, which the policy masks for you (${table}), and a write's WHERE, SET values, RETURNING and ON CONFLICT see the table's raw values`,
    hint: `Leave the masked columns (${[...masks.keys()].join(', ')}) out of WHERE, SET values, RETURNING and ON CONFLICT, and name the columns to return instead of * or a whole row.`,
  };
}

function planCopy(ref: RelationRef, rel: RelationInfo, masks: ReferenceMasks, table: string, tokens: Tokens, detections: readonly DetectRule[], functions: MaskFunctions): Planned {
  const copy = ref.copy!;
  if (copy['is_from'] === true) {
    return {
      message: `Gatehouse does not run COPY FROM into masked table ${rel.qualified} while a mask applies`,
      hint: 'Writes to a table with masked columns are not run under a mask.',
    };
  }
  const first = tokens.indexAt(numberOf(ref.rangeVar['location']));
  if (first < 0) return located();
  let end = nameEnd(tokens, first);
  const columns = list(copy, 'attlist').map(stringValue);
  if (columns.some((c) => c === null)) return located();
  if (columns.length > 0) {
    const open = tokens.next(end);
    if (tokens.text(open) !== '(') return located();
    end = closing(tokens, open);
    if (end < 0) return located();
  }
  const derived = derivedTable(rel, masks, readsDescendants(ref, rel), detections, functions);
  const relname = str(ref.rangeVar, 'relname') ?? rel.name;
  const select = `SELECT ${columns.length === 0 ? '*' : columns.map((c) => quoteIdent(c!)).join(', ')} FROM ${derived} AS ${quoteIdent(relname)}`;
  return {
    splice: { start: tokens.all[first]!.start, end: tokens.all[end]!.end, text: `(${select})` },
    replacement: { kind: 'copy', path: ref.path, table, select },
    applies: masks,
  };
}

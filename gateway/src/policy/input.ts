// The one builder of PolicyInput: statement facts + identity + session → the versioned, snake_case document.

import type { StatementFacts, TableRef } from '../sql/facts.ts';
import { callsSqlTextFunction } from './sql-text-functions.ts';
import { identityPart, sessionPart, unique } from './input-parts.ts';
import { settingNames, type BoundValues } from './setting-names.ts';
import { POLICY_INPUT_VERSION } from './types.ts';
import type { Identity, PolicyInput, PolicyTrigger, SessionInfo } from './types.ts';

export interface PolicyInputArgs {
  identity: Identity;
  session: SessionInfo;
  text: string;
  protocol: 'simple' | 'extended';
  facts: StatementFacts;
  /** Values bound at an extended-protocol Execute (statement.settings names given as $n). */
  parameters?: BoundValues;
  /** What the database's catalog adds (enforce/catalog-facts.ts); none when omitted. */
  catalog?: CatalogFacts;
}

/** Facts only the database's catalog knows, added to the parser's. */
export interface CatalogFacts {
  /** Tables read through the views (and partitions' parents) the statement names. */
  tablesReadThrough: string[];
  /** Functions called by the views the statement reads (they run with it). */
  functionsThrough: string[];
  /** Called functions, the statement's own and its views', that are not built in. */
  userFunctions: string[];
  /** User triggers the statement's writes can fire (enforce/write-triggers.ts); none when omitted. */
  triggers?: PolicyTrigger[];
  /** User functions the WHEN conditions of those triggers call (in trigger_functions too). */
  triggerCalls?: string[];
  /** Functions the statement's writes run that Gatehouse's upstream role could replace (enforce/write-triggers.ts); none when omitted. */
  replaceableFunctions?: string[];
  /** By table: the columns the generated columns the statement names are computed from (enforce/generated-masks.ts); none when omitted. */
  columnsThrough?: Readonly<Record<string, readonly string[]>>;
}

export function buildPolicyInput(args: PolicyInputArgs): PolicyInput {
  const { identity, session, facts } = args;
  const d = derivedParts(facts, args.catalog);
  return {
    version: POLICY_INPUT_VERSION,
    // Shared by the session's inputs, frozen: never changed in place (policy/input-parts.ts).
    identity: identityPart(identity),
    session: sessionPart(session),
    statement: {
      text: args.text,
      fingerprint: facts.fingerprint,
      protocol: args.protocol,
      kind: facts.kind,
      command: facts.command,
      // The lists below are shared by every statement of the shape, frozen (derivedParts).
      tables_read: d.tablesRead,
      tables_written: d.tablesWritten,
      columns: d.columns,
      functions: d.functions,
      user_functions: d.userFunctions,
      triggers: d.triggers,
      trigger_functions: d.triggerFunctions,
      replaceable_functions: d.replaceableFunctions,
      runs_sql_text: d.runsSqlText,
      has_where: facts.hasWhere,
      unbounded_writes: facts.unboundedWrites,
      locks_rows: facts.locksRows,
      has_limit: facts.hasLimit,
      writes: facts.writes,
      cte_writes: facts.cteWrites,
      explain_analyze: facts.explainAnalyze,
      inner_kind: facts.innerKind,
      prepared_name: facts.preparedName,
      copy: d.copy,
      setting: facts.setting,
      settings: settingNames(facts.settingChanges, args.parameters ?? 'unbound'),
    },
  };
}

/** The parts of input.statement that follow from the parser's facts and the catalog's alone. */
interface DerivedParts {
  tablesRead: string[];
  tablesWritten: string[];
  columns: Record<string, string[]>;
  functions: string[];
  userFunctions: string[];
  triggers: PolicyTrigger[];
  triggerFunctions: string[];
  replaceableFunctions: string[];
  runsSqlText: boolean;
  copy: PolicyInput['statement']['copy'];
}

/**
 * The last derived parts for a facts object (frozen, shared: the shape cache hands out one facts
 * object per shape) and the catalog facts they were made with (enforce/catalog-facts.ts keeps one
 * object per shape while the catalog is unchanged, so a changed catalog is a different object).
 */
const derivedFor = new WeakMap<StatementFacts, { catalog: CatalogFacts | undefined; parts: DerivedParts }>();

function derivedParts(facts: StatementFacts, catalog: CatalogFacts | undefined): DerivedParts {
  const last = derivedFor.get(facts);
  if (last !== undefined && last.catalog === catalog) return last.parts;
  const functions = unique([...facts.functions, ...(catalog?.functionsThrough ?? [])]);
  const triggers = catalog?.triggers ?? [];
  const columns: Record<string, string[]> = {};
  // Naming a generated column reads the columns it is computed from (R21a-2).
  for (const [table, names] of Object.entries(facts.columns)) columns[table] = Object.freeze(unique([...names, ...(catalog?.columnsThrough?.[table] ?? [])])) as string[];
  const parts: DerivedParts = {
    tablesRead: unique([...qualifiedNames(facts.tablesRead), ...(catalog?.tablesReadThrough ?? [])]),
    tablesWritten: qualifiedNames(facts.tablesWritten),
    columns: Object.freeze(columns),
    functions,
    userFunctions: unique(catalog?.userFunctions ?? []),
    triggers: Object.freeze(triggers.map((t) => Object.freeze(Object.assign({}, t, { events: Object.freeze([...t.events]) as PolicyTrigger['events'] })))) as PolicyTrigger[],
    triggerFunctions: unique([...triggers.map((t) => t.function), ...(catalog?.triggerCalls ?? [])]),
    replaceableFunctions: unique(catalog?.replaceableFunctions ?? []),
    runsSqlText: callsSqlTextFunction(functions),
    copy: facts.copy === null ? null : Object.freeze({ ...facts.copy }),
  };
  for (const list of [parts.tablesRead, parts.tablesWritten, parts.functions, parts.userFunctions, parts.triggerFunctions, parts.replaceableFunctions]) Object.freeze(list);
  derivedFor.set(facts, { catalog, parts });
  return parts;
}

function qualifiedNames(tables: readonly TableRef[]): string[] {
  return unique(tables.map((t) => t.qualified));
}

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
}

export function buildPolicyInput(args: PolicyInputArgs): PolicyInput {
  const { identity, session, facts } = args;
  const functions = unique([...facts.functions, ...(args.catalog?.functionsThrough ?? [])]);
  const triggers = args.catalog?.triggers ?? [];
  const columns: Record<string, string[]> = {};
  for (const [table, names] of Object.entries(facts.columns)) {
    columns[table] = unique(names);
  }
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
      tables_read: unique([...qualifiedNames(facts.tablesRead), ...(args.catalog?.tablesReadThrough ?? [])]),
      tables_written: qualifiedNames(facts.tablesWritten),
      columns,
      functions,
      user_functions: unique(args.catalog?.userFunctions ?? []),
      triggers: triggers.map((t) => ({ ...t, events: [...t.events] })),
      trigger_functions: unique([...triggers.map((t) => t.function), ...(args.catalog?.triggerCalls ?? [])]),
      runs_sql_text: callsSqlTextFunction(functions),
      has_where: facts.hasWhere,
      unbounded_writes: facts.unboundedWrites,
      locks_rows: facts.locksRows,
      has_limit: facts.hasLimit,
      writes: facts.writes,
      cte_writes: facts.cteWrites,
      explain_analyze: facts.explainAnalyze,
      inner_kind: facts.innerKind,
      prepared_name: facts.preparedName,
      copy: facts.copy === null ? null : { ...facts.copy },
      setting: facts.setting,
      settings: settingNames(facts.settingChanges, args.parameters ?? 'unbound'),
    },
  };
}

function qualifiedNames(tables: readonly TableRef[]): string[] {
  return unique(tables.map((t) => t.qualified));
}

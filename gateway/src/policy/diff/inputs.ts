// Collects the inputs a policy diff evaluates: the policy-test cases of both commits (built through the
// same SQL analysis as live traffic) and the inputs recorded in audit logs, each distinct input once.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { analyzeQuery } from '../../sql/parser.ts';
import type { StatementFacts } from '../../sql/facts.ts';
import { ANY_SETTING, settingNames } from '../setting-names.ts';
import { callsSqlTextFunction } from '../sql-text-functions.ts';
import { POLICY_INPUT_VERSION, type EngineKind, type PolicyInput } from '../types.ts';
import { evaluationFor } from '../testing/case-input.ts';
import type { LoadedCaseFile } from '../testing/cases.ts';
import type { DiffInput, InputOrigin } from './types.ts';

/**
 * The key two inputs share when every engine must decide them alike: canonical JSON (object keys
 * sorted) without `session.id`, which is a random per-connection identifier, so the same statement
 * from the same identity audited in a hundred sessions is one input.
 */
export function inputKey(input: PolicyInput): string {
  const { id: _sessionId, ...session } = input.session;
  return canonicalJson({ ...input, session });
}

/** JSON with object keys in sorted order at every depth (array order kept). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

const ALL_ENGINES: readonly EngineKind[] = ['rego', 'cedar'];

/** Distinct inputs in the order first seen, with where each came from. */
export class InputCollector {
  private readonly byKey = new Map<string, DiffInput>();
  readonly warnings: string[] = [];
  /** Cases read (before deduplication) and audited statement records read with an input. */
  cases = 0;
  auditRecords = 0;

  inputs(): DiffInput[] {
    return [...this.byKey.values()];
  }

  add(input: PolicyInput, engines: readonly EngineKind[], origin: InputOrigin): void {
    const key = inputKey(input);
    const existing = this.byKey.get(key);
    if (existing === undefined) {
      this.byKey.set(key, { key, input, engines: [...engines], origins: [origin] });
      return;
    }
    for (const e of engines) if (!existing.engines.includes(e)) existing.engines.push(e);
    existing.engines.sort((a, b) => ALL_ENGINES.indexOf(a) - ALL_ENGINES.indexOf(b));
    const same = existing.origins.find((o) => sameOrigin(o, origin));
    if (same === undefined) existing.origins.push(origin);
    else if (same.type === 'audit' && origin.type === 'audit') same.records += origin.records;
    else if (same.type === 'case' && origin.type === 'case' && same.side !== origin.side) same.side = 'both';
  }

  /**
   * Adds the cases of loaded case files. Needs loadSqlParser() to have resolved. A case the gateway
   * decides without asking any policy (SQL that does not parse) cannot change with the policies and
   * is left out; a case that cannot be built is a warning.
   */
  addCases(files: readonly LoadedCaseFile[], side: 'base' | 'head' | 'cases-dir'): void {
    const where = side === 'cases-dir' ? '' : ` (${side})`;
    for (const file of files) {
      for (const p of file.problems) {
        this.warnings.push(`${file.file}${p.line === undefined ? '' : `:${p.line}`}${where}: ${p.caseName === undefined ? '' : `${p.caseName}: `}${p.message}`);
      }
      for (const c of file.cases) {
        this.cases++;
        let evaluation;
        try {
          evaluation = evaluationFor(c);
        } catch (e) {
          this.warnings.push(`${c.file}:${c.line}${where}: case "${c.name}" skipped: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        if (evaluation.type === 'gateway') continue;
        this.add(evaluation.input, c.engines, { type: 'case', name: c.name, file: c.file, line: c.line, side });
      }
    }
  }

  /** Adds the input of every 'statement' record of an NDJSON audit log. */
  async addAuditFile(path: string): Promise<void> {
    let badLines = 0;
    let withoutInput = 0;
    let lineNo = 0;
    const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        badLines++;
        continue;
      }
      if (!isStatementRecord(record)) continue;
      if (record.input === null || typeof record.input !== 'object') {
        withoutInput++;
        continue;
      }
      this.auditRecords++;
      this.add(upgradeRecordedInput(record.input), ALL_ENGINES, { type: 'audit', file: path, records: 1 });
    }
    if (badLines > 0) this.warnings.push(`${path}: ${badLines} of ${lineNo} lines are not JSON and were skipped`);
    if (withoutInput > 0) this.warnings.push(`${path}: ${withoutInput} statement records have no input (the statement did not parse) and were skipped`);
  }
}

/**
 * An input recorded by an older Gatehouse, brought to the current version so today's policies
 * judge the same statement. Version 1 lacked four statement facts: runs_sql_text, computed from
 * the recorded function names exactly as buildPolicyInput does, and unbounded_writes, settings and
 * locks_rows, which depend on the parse tree alone (not on the session): they come from the
 * recorded text, parsed again, when it is one statement, and otherwise from the recorded facts,
 * erring on the side of a deny (see recordedUnboundedWrites, recordedSettings and
 * recordedLocksRows). Two-phase commit statements get their version-2 kind (recordedTwoPhase). Needs loadSqlParser() to have
 * resolved, or the recorded facts are used.
 */
export function upgradeRecordedInput(input: PolicyInput): PolicyInput {
  const recorded = input as Omit<PolicyInput, 'version' | 'statement'> & {
    version: number;
    statement: Omit<PolicyInput['statement'], 'runs_sql_text' | 'unbounded_writes' | 'settings' | 'locks_rows'> & {
      runs_sql_text?: boolean;
      unbounded_writes?: boolean;
      settings?: string[];
      locks_rows?: boolean;
    };
  };
  if (recorded.version !== 1) return input;
  const functions = Array.isArray(recorded.statement.functions) ? recorded.statement.functions : [];
  const facts = reparsedFacts(recorded.statement.text);
  const twoPhase = recordedTwoPhase(recorded.statement, facts);
  return {
    ...recorded,
    version: POLICY_INPUT_VERSION,
    statement: {
      ...recorded.statement,
      ...(twoPhase ? { kind: 'two_phase' as const, writes: true } : {}),
      locks_rows: facts === null ? recordedLocksRows(recorded.statement) : facts.locksRows,
      runs_sql_text: callsSqlTextFunction(functions),
      unbounded_writes: facts === null ? recordedUnboundedWrites(recorded.statement) : facts.unboundedWrites,
      settings: facts === null ? recordedSettings(recorded.statement) : settingNames(facts.settingChanges),
    },
  };
}

/** The facts of a recorded statement's text when it parses as one statement, else null. */
function reparsedFacts(text: unknown): StatementFacts | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  try {
    const outcome = analyzeQuery(text);
    return outcome.ok && outcome.statements.length === 1 ? outcome.statements[0]!.facts : null;
  } catch {
    return null; // the parser is not loaded: the recorded facts are used
  }
}

/**
 * statement.unbounded_writes for a version-1 input whose text cannot be parsed again: true
 * whenever the recorded facts show the statement writes anything or names a table it writes
 * (every UPDATE, DELETE and TRUNCATE target is in tables_written).
 */
function recordedUnboundedWrites(statement: { writes?: unknown; tables_written?: unknown }): boolean {
  return statement.writes !== false || !Array.isArray(statement.tables_written) || statement.tables_written.length > 0;
}

/**
 * statement.settings for a version-1 input whose text cannot be parsed again: the recorded
 * setting of a SET or RESET, and "*" (any parameter) when the recorded facts show a way to change
 * one they do not name: a set_config() call, a write to pg_settings, or a statement of a kind
 * that may carry a SET clause (ALTER ROLE/DATABASE/SYSTEM, CREATE/ALTER FUNCTION).
 */
function recordedSettings(statement: { setting?: unknown; functions?: unknown; tables_written?: unknown; kind?: unknown }): string[] {
  const names: string[] = [];
  if (typeof statement.setting === 'string') names.push(statement.setting);
  const functions = Array.isArray(statement.functions) ? statement.functions : [];
  const written = Array.isArray(statement.tables_written) ? statement.tables_written : [];
  const maySet =
    functions.some((f) => typeof f === 'string' && f.toLowerCase().split('.').at(-1) === 'set_config') ||
    written.some((t) => typeof t === 'string' && t.toLowerCase().split('.').at(-1) === 'pg_settings') ||
    statement.kind === 'ddl' ||
    statement.kind === 'grant' ||
    statement.kind === 'other';
  if (maySet) names.push(ANY_SETTING);
  return names;
}

/**
 * Version 1 classified PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED as kind
 * "transaction"; version 2 gives them kind "two_phase" (and counts them as writes). From the text
 * parsed again, or, when it cannot be, any recorded transaction statement whose text names PREPARE.
 */
function recordedTwoPhase(statement: { kind?: unknown; text?: unknown }, facts: StatementFacts | null): boolean {
  if (statement.kind !== 'transaction') return false;
  if (facts !== null) return facts.kind === 'two_phase';
  return typeof statement.text !== 'string' || /prepare/i.test(statement.text);
}

/**
 * statement.locks_rows for a version-1 input whose text cannot be parsed again: true whenever the
 * recorded facts show a table read (a row lock needs one), to err on the side of a deny.
 */
function recordedLocksRows(statement: { tables_read?: unknown }): boolean {
  return !Array.isArray(statement.tables_read) || statement.tables_read.length > 0;
}

function isStatementRecord(r: unknown): r is { type: 'statement'; input: PolicyInput | null } {
  return typeof r === 'object' && r !== null && (r as { type?: unknown }).type === 'statement' && 'input' in r;
}

function sameOrigin(a: InputOrigin, b: InputOrigin): boolean {
  if (a.type === 'audit' && b.type === 'audit') return a.file === b.file;
  if (a.type === 'case' && b.type === 'case') return a.name === b.name && a.file === b.file;
  return false;
}

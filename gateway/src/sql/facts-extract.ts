// Builds the StatementFacts of one parsed statement: kind, tables, columns, flags, fingerprint.
import { fingerprintSync } from 'libpg-query';
import type { CopyFacts, StatementFacts } from './facts.ts';
import { asNode, isObject, list, str, type AstBody, type AstNode } from './ast.ts';
import { settingChanges } from './setting-changes.ts';
import { locksRows } from './row-locks.ts';
import { kindWrites, statementKind } from './statement-kind.ts';
import { hasUnboundedWrite } from './unbounded-writes.ts';
import { FactsWalker } from './walk.ts';

/** Facts of an empty query string (or one holding only comments or semicolons). */
export function emptyFacts(): StatementFacts {
  return {
    kind: 'empty',
    command: '',
    tablesRead: [],
    tablesWritten: [],
    columns: {},
    functions: [],
    operators: [],
    types: [],
    hasWhere: false,
    hasLimit: false,
    unboundedWrites: false,
    locksRows: false,
    writes: false,
    cteWrites: false,
    explainAnalyze: false,
    innerKind: null,
    preparedName: null,
    copy: null,
    setting: null,
    settingChanges: [],
    fingerprint: '',
  };
}

/** Facts of statement `stmt`, whose own text (not the whole query string) is `text`. */
export function extractFacts(stmt: AstNode, text: string, searchPath: readonly string[]): StatementFacts {
  const { type, body } = stmt;
  const kind = statementKind(type, body);
  const walked = new FactsWalker(searchPath).walkStatement(stmt);
  const inner = innerStatement(stmt);
  // WHERE/LIMIT of EXPLAIN, PREPARE and DECLARE CURSOR are their inner statement's, so that
  // "no DELETE without WHERE" also holds for EXPLAIN ANALYZE DELETE and PREPARE ... AS DELETE.
  const effective = inner ?? stmt;
  return {
    kind,
    command: type,
    tablesRead: walked.tablesRead,
    tablesWritten: walked.tablesWritten,
    columns: walked.columns,
    functions: walked.functions,
    operators: walked.operators,
    types: walked.types,
    hasWhere: hasWhere(effective),
    hasLimit: hasLimit(effective),
    unboundedWrites: hasUnboundedWrite(stmt),
    locksRows: locksRows(stmt),
    writes: statementWrites(stmt, walked.cteWrites),
    cteWrites: walked.cteWrites,
    explainAnalyze: type === 'ExplainStmt' && explainAnalyze(body),
    innerKind: inner !== null && (type === 'ExplainStmt' || type === 'PrepareStmt') ? statementKind(inner.type, inner.body) : null,
    preparedName: preparedName(stmt),
    copy: type === 'CopyStmt' ? copyFacts(body) : null,
    setting: type === 'VariableSetStmt' ? setting(body) : null,
    settingChanges: settingChanges(stmt),
    fingerprint: fingerprint(text),
  };
}

/** The statement inside EXPLAIN, PREPARE and DECLARE CURSOR. */
function innerStatement(stmt: AstNode): AstNode | null {
  switch (stmt.type) {
    case 'ExplainStmt':
    case 'PrepareStmt':
    case 'DeclareCursorStmt':
      return asNode(stmt.body['query']);
    default:
      return null;
  }
}

function hasWhere(stmt: AstNode): boolean {
  switch (stmt.type) {
    case 'SelectStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
      return stmt.body['whereClause'] !== undefined;
    default:
      return false;
  }
}

/** LIMIT ALL / LIMIT NULL parse to a null constant: no limit. */
function hasLimit(stmt: AstNode): boolean {
  if (stmt.type !== 'SelectStmt') return false;
  const count = asNode(stmt.body['limitCount']);
  if (count === null) return false;
  return !(count.type === 'A_Const' && count.body['isnull'] === true);
}

/**
 * Whether running the statement changes the database. EXPLAIN writes only with ANALYZE (it then
 * runs its statement); PREPARE counts as its inner statement, so that a write can be refused when
 * it is prepared (EXECUTE carries only a name); COPY writes when FROM, or when its query does
 * (COPY (DELETE ... RETURNING ...) TO).
 */
function statementWrites(stmt: AstNode, cteWrites: boolean): boolean {
  const { type, body } = stmt;
  switch (type) {
    case 'CopyStmt': {
      const inner = asNode(body['query']);
      return body['is_from'] === true || (inner !== null && statementWrites(inner, cteWrites));
    }
    case 'ExplainStmt': {
      const inner = asNode(body['query']);
      return explainAnalyze(body) && inner !== null && statementWrites(inner, cteWrites);
    }
    case 'PrepareStmt': {
      const inner = asNode(body['query']);
      return inner !== null && statementWrites(inner, cteWrites);
    }
    default:
      return kindWrites(statementKind(type, body)) || cteWrites;
  }
}

const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);

/** EXPLAIN ANALYZE, EXPLAIN (ANALYZE), EXPLAIN (ANALYZE true); not EXPLAIN (ANALYZE off). */
function explainAnalyze(body: AstBody): boolean {
  for (const o of list(body, 'options')) {
    const def = asNode(o);
    if (def === null || def.type !== 'DefElem' || str(def.body, 'defname') !== 'analyze') continue;
    return !isFalse(def.body['arg']);
  }
  return false;
}

/** A DefElem argument that PostgreSQL's defGetBoolean reads as false. Anything unclear is true. */
function isFalse(arg: unknown): boolean {
  const node = asNode(arg);
  if (node === null) return false;
  switch (node.type) {
    case 'String':
      return FALSE_WORDS.has((str(node.body, 'sval') ?? '').toLowerCase());
    case 'Integer':
      return (node.body['ival'] ?? 0) === 0;
    case 'Boolean':
      return node.body['boolval'] !== true;
    default:
      return false;
  }
}

function preparedName(stmt: AstNode): string | null {
  switch (stmt.type) {
    case 'PrepareStmt':
    case 'ExecuteStmt':
    case 'DeallocateStmt':
      return str(stmt.body, 'name');
    default:
      return null;
  }
}

function copyFacts(body: AstBody): CopyFacts {
  const filename = body['filename'];
  const endpoint = typeof filename !== 'string' ? 'stdio' : body['is_program'] === true ? 'program' : 'file';
  return { direction: body['is_from'] === true ? 'from' : 'to', endpoint, query: isObject(body['query']) };
}

/** SET x / RESET x → "x" (lower-case); RESET ALL → "all"; SET ROLE → "role". */
function setting(body: AstBody): string | null {
  const name = str(body, 'name');
  if (name !== null) return name.toLowerCase();
  return str(body, 'kind') === 'VAR_RESET_ALL' ? 'all' : null;
}

function fingerprint(text: string): string {
  try {
    return fingerprintSync(text);
  } catch {
    return ''; // the text parsed a moment ago; an empty fingerprint matches no allow-list
  }
}

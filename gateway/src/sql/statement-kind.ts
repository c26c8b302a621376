// Maps the parser's top-level node name (e.g. "SelectStmt") to Gatehouse's closed StatementKind set.
import type { StatementKind } from './facts.ts';

const EXACT: Readonly<Record<string, StatementKind>> = {
  SelectStmt: 'select',
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  CopyStmt: 'copy',
  // Roles and privileges.
  GrantStmt: 'grant',
  GrantRoleStmt: 'grant',
  CreateRoleStmt: 'grant',
  AlterRoleStmt: 'grant',
  AlterRoleSetStmt: 'grant',
  DropRoleStmt: 'grant',
  AlterDefaultPrivilegesStmt: 'grant',
  ReassignOwnedStmt: 'grant',
  DropOwnedStmt: 'grant',
  // Transaction control.
  TransactionStmt: 'transaction',
  ConstraintsSetStmt: 'transaction',
  VariableSetStmt: 'set',
  VariableShowStmt: 'show',
  ExplainStmt: 'explain',
  DoStmt: 'do',
  CallStmt: 'call',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'cursor',
  FetchStmt: 'cursor',
  ClosePortalStmt: 'cursor',
  ListenStmt: 'listen',
  UnlistenStmt: 'listen',
  NotifyStmt: 'listen',
  LockStmt: 'lock',
  VacuumStmt: 'vacuum',
  ClusterStmt: 'vacuum',
  ReindexStmt: 'vacuum',
  DiscardStmt: 'discard',
  // ALTER SYSTEM rewrites postgresql.auto.conf and LOAD loads a shared library: neither is
  // ordinary DDL, and policies should have to name them ('other') to allow them.
  AlterSystemStmt: 'other',
  LoadStmt: 'other',
  CheckPointStmt: 'other',
  // DDL whose node name does not start with Create/Alter/Drop.
  TruncateStmt: 'ddl',
  CommentStmt: 'ddl',
  SecLabelStmt: 'ddl',
  DefineStmt: 'ddl',
  IndexStmt: 'ddl',
  ViewStmt: 'ddl',
  RenameStmt: 'ddl',
  RuleStmt: 'ddl',
  RefreshMatViewStmt: 'ddl',
  ImportForeignSchemaStmt: 'ddl',
  CompositeTypeStmt: 'ddl',
};

const DDL_PREFIXES = ['Create', 'Alter', 'Drop'] as const;

/**
 * PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED are not transaction control of the
 * session: a prepared transaction outlives it, and every client shares Gatehouse's upstream role,
 * which PostgreSQL lets finish any prepared transaction it owns, whoever prepared it.
 */
const TWO_PHASE: ReadonlySet<string> = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);

/**
 * The kind of a top-level statement node. SELECT ... INTO creates a table, so it is 'ddl'
 * (as PostgreSQL itself treats it as CREATE TABLE AS), and a two-phase TransactionStmt is
 * 'two_phase'; pass the node body to detect them.
 */
export function statementKind(command: string, body?: { readonly [field: string]: unknown }): StatementKind {
  if (command === 'SelectStmt') return body?.['intoClause'] !== undefined ? 'ddl' : 'select';
  if (command === 'TransactionStmt' && TWO_PHASE.has(String(body?.['kind']))) return 'two_phase';
  const exact = EXACT[command];
  if (exact !== undefined) return exact;
  for (const prefix of DDL_PREFIXES) if (command.startsWith(prefix)) return 'ddl';
  return 'other';
}

/** Whether a statement of this kind changes the database when it runs, by its kind alone. */
export function kindWrites(kind: StatementKind): boolean {
  switch (kind) {
    case 'insert':
    case 'update':
    case 'delete':
    case 'merge':
    case 'ddl':
    case 'grant':
    // A DO block or a procedure can do anything; without reading its body we assume it writes.
    case 'do':
    case 'call':
    // COMMIT PREPARED makes another transaction's writes permanent, ROLLBACK PREPARED discards
    // them, PREPARE TRANSACTION stores this one's to be finished by anyone: counted as writes.
    case 'two_phase':
    // Unclassified statements (ALTER SYSTEM, LOAD, CHECKPOINT, ...): fail closed.
    case 'other':
      return true;
    case 'select':
    case 'copy': // depends on direction: decided by the caller
    case 'transaction':
    case 'set':
    case 'show':
    case 'explain': // depends on ANALYZE and the inner statement
    case 'prepare': // depends on the inner statement
    case 'execute': // unknown here: the session knows what was prepared
    case 'deallocate':
    case 'cursor':
    case 'listen':
    case 'lock':
    case 'vacuum':
    case 'discard':
    case 'empty':
      return false;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

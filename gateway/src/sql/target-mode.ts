// Whether the relations a statement names outside FROM clauses are its targets (written) or read.
import type { AstBody } from './ast.ts';
import type { TargetMode } from './facts-recorder.ts';
import { statementKind } from './statement-kind.ts';

/** LockStmt.mode at or below which a LOCK only reads (AccessShareLock = 1). */
const ACCESS_SHARE_LOCK = 1;

/**
 * The target mode a statement node sets for relations named outside FROM clauses: in DDL,
 * GRANT and maintenance statements they are the statement's targets; elsewhere they are read.
 */
export function modeFor(type: string, body: AstBody): TargetMode {
  switch (statementKind(type, body)) {
    case 'ddl':
    case 'grant':
    case 'vacuum':
    case 'other':
      return 'write';
    case 'lock': {
      const mode = body['mode'];
      return typeof mode === 'number' && mode <= ACCESS_SHARE_LOCK ? 'read' : 'write';
    }
    default:
      return 'read';
  }
}

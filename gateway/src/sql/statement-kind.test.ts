import { describe, expect, it } from 'vitest';
import type { StatementKind } from './facts.ts';
import { kindWrites, statementKind } from './statement-kind.ts';

describe('statementKind', () => {
  it.each<[string, StatementKind]>([
    ['SelectStmt', 'select'],
    ['CreateStmt', 'ddl'],
    ['AlterTableStmt', 'ddl'],
    ['DropStmt', 'ddl'],
    ['CreateRoleStmt', 'grant'],
    ['AlterRoleStmt', 'grant'],
    ['DropRoleStmt', 'grant'],
    ['AlterSystemStmt', 'other'],
    ['SomeFutureStmt', 'other'],
  ])('%s → %s', (command, kind) => {
    expect(statementKind(command)).toBe(kind);
  });

  it('SELECT INTO is ddl', () => {
    expect(statementKind('SelectStmt', { intoClause: {} })).toBe('ddl');
  });

  it.each(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED'])('two-phase %s is two_phase, not transaction', (kind) => {
    expect(statementKind('TransactionStmt', { kind })).toBe('two_phase');
    expect(kindWrites('two_phase')).toBe(true);
  });

  it('BEGIN, COMMIT and SAVEPOINT stay transaction', () => {
    for (const kind of ['TRANS_STMT_BEGIN', 'TRANS_STMT_COMMIT', 'TRANS_STMT_SAVEPOINT']) expect(statementKind('TransactionStmt', { kind })).toBe('transaction');
  });

  it('unknown statements are assumed to write (fail closed)', () => {
    expect(kindWrites('other')).toBe(true);
    expect(kindWrites('select')).toBe(false);
  });
});

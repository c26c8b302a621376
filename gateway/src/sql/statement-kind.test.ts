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

  it('unknown statements are assumed to write (fail closed)', () => {
    expect(kindWrites('other')).toBe(true);
    expect(kindWrites('select')).toBe(false);
  });
});

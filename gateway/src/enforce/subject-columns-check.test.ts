import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule } from 'libpg-query';
import { parsedStatements } from '../sql/split.ts';
import { checkAdded } from './subject-columns-check.ts';

const one = [{ hidden: ['clinical.patients'] }];

function check(original: string, text: string, plans: readonly ({ hidden: string[] } | null)[] = one): string | null {
  return checkAdded(parsedStatements(original), text, plans);
}

beforeAll(async () => {
  await loadModule();
});

describe('checkAdded', () => {
  it('accepts exactly the planned columns at the end of the select list or RETURNING', () => {
    expect(check('SELECT name FROM p', 'SELECT name, CAST(p.id AS text) AS gatehouse_subject_1 FROM p')).toBeNull();
    expect(check('DELETE FROM p', 'DELETE FROM p RETURNING CAST(p.id AS text) AS gatehouse_subject_1')).toBeNull();
    expect(check('DELETE FROM p RETURNING *', 'DELETE FROM p RETURNING *, p.id AS gatehouse_subject_1')).toBeNull();
    expect(check('SELECT 1; SELECT a FROM p', 'SELECT 1; SELECT a, p.id AS gatehouse_subject_1 FROM p', [null, ...one])).toBeNull();
  });

  it('refuses a column added anywhere else, or changed text', () => {
    expect(check('SELECT name FROM p', 'SELECT p.id AS gatehouse_subject_1, name FROM p')).toMatch(/unexpected added column|does not read as intended/);
    expect(check('SELECT name FROM p', 'SELECT name, p.id AS subject FROM p')).toMatch(/unexpected added column/);
    expect(check('SELECT name FROM p WHERE a = 1', 'SELECT name, p.id AS gatehouse_subject_1 FROM p WHERE a = 2')).toMatch(/does not read as intended/);
    expect(check('SELECT name FROM p', 'SELECT name FROM p')).toMatch(/unexpected added column/);
    expect(check('SELECT name FROM p', 'SELECT name, p.id AS gatehouse_subject_1 FROM p', [null])).toMatch(/does not read as intended/);
    expect(check('SELECT name FROM p', 'SELECT name, p.id AS gatehouse_subject_1 FROM p; SELECT 2')).toMatch(/different number of statements/);
    expect(check('SELECT name FROM p', 'SELECT name, p.id AS gatehouse_subject_1 FROM p WHERE')).toMatch(/does not parse/);
    expect(check('DELETE FROM p', 'DELETE FROM p')).toMatch(/lost its added columns/);
  });
});

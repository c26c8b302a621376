import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { cursorUse, isReservedName } from './cursor-names.ts';

const uses = (sql: string) => {
  const outcome = analyzeQuery(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements.map(cursorUse);
};

describe('cursorUse', () => {
  beforeAll(async () => {
    await loadSqlParser();
  });

  it('names the cursor of DECLARE, FETCH, MOVE and CLOSE as PostgreSQL has it', () => {
    expect(uses('DECLARE "Foo" CURSOR WITH HOLD FOR SELECT 1; FETCH 3 FROM Leak; MOVE ABSOLUTE 1 IN c; CLOSE x; CLOSE ALL')).toEqual([
      { name: 'Foo', declares: true },
      { name: 'leak', declares: false },
      { name: 'c', declares: false },
      { name: 'x', declares: false },
      { name: null, declares: false },
    ]);
  });

  it('is null for statements that are not cursor statements', () => {
    expect(uses("SELECT 1; PREPARE p AS SELECT 1; SELECT cursor_to_xml('c', 1, false, false, '')")).toEqual([null, null, null]);
  });
});

describe('isReservedName', () => {
  it('matches the reserved prefix in any case, and nothing else', () => {
    expect(isReservedName('gatehouse_1a2b_c1')).toBe(true);
    expect(isReservedName('GateHouse_x')).toBe(true);
    expect(isReservedName('C_1')).toBe(false);
    expect(isReservedName('gatehouse')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type { Pending, PreparedStatement } from './pending.ts';
import { PortalTable } from './portal-table.ts';
import { undoNameChanges } from './name-undo.ts';

const prepared = (name: string, sql: string): PreparedStatement => ({ name, upstreamName: name === '' ? '' : `gh_${name}`, sql, preparedSql: sql, fields: null });
const sync: Pending = { kind: 'sync' };

function names() {
  return { statements: new Map<string, PreparedStatement>(), portals: new PortalTable('gh_') };
}

describe('undoNameChanges', () => {
  it('a failed Parse leaves no statement; a skipped one puts back the unnamed statement it replaced', () => {
    const n = names();
    const old = prepared('', 'SELECT 1');
    const skippedParse = prepared('', 'SELECT 2');
    const failedParse = prepared('s1', 'SELECT x');
    n.statements.set('', skippedParse);
    n.statements.set('s1', failedParse);
    undoNameChanges({ kind: 'parse', statement: failedParse, replaced: null }, [{ kind: 'parse', statement: skippedParse, replaced: old }], n);
    expect(n.statements.has('s1')).toBe(false);
    expect(n.statements.get('')).toBe(old);
  });

  it('a skipped refusal gives back the unnamed statement Gatehouse dropped for it, unless there is one again', () => {
    const n = names();
    const dropped = prepared('', 'SELECT 1');
    undoNameChanges(sync, [{ kind: 'refused-query', error: Buffer.alloc(0), shown: false, droppedUnnamed: dropped }], n);
    expect(n.statements.get('')).toBe(dropped);
    const newer = prepared('', 'SELECT 3');
    n.statements.set('', newer);
    undoNameChanges(sync, [{ kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: dropped }], n);
    expect(n.statements.get('')).toBe(newer);
  });

  it('skipped Binds and Closes are undone latest first: the portal is back as the server has it', () => {
    const n = names();
    const s = prepared('s', 'SELECT ssn FROM clinical.patients');
    const first = n.portals.bind('p', s, []);
    const closed = n.portals.close('p');
    const second = n.portals.bind('p', s, []);
    undoNameChanges(sync, [{ kind: 'close', portal: closed }, { kind: 'bind', portal: second.portal, previous: second.previous }], n);
    expect(n.portals.resolve('p')).toEqual({ kind: 'portal', portal: first.portal });
  });

  it('a failed Close of a statement keeps it', () => {
    const n = names();
    const s = prepared('s', 'SELECT 1');
    undoNameChanges({ kind: 'close-statement', statement: s }, [], n);
    expect(n.statements.get('s')).toBe(s);
  });
});

import { describe, expect, it } from 'vitest';
import type { PreparedStatement } from './pending.ts';
import { PortalTable } from './portal-table.ts';

const statement = (sql: string): PreparedStatement => ({ name: 's', upstreamName: 'gatehouse_x_1', sql, preparedSql: sql, fields: null });

describe('PortalTable', () => {
  it('gives every named portal a fresh reserved upstream name, never the client name; the unnamed portal stays unnamed', () => {
    const t = new PortalTable('gatehouse_ab_');
    const a = t.bind('leak', statement('SELECT 1'), []).portal;
    const b = t.bind('leak', statement('SELECT 2'), []).portal;
    const c = t.bind('C_1', statement('SELECT 3'), []).portal;
    expect([a.upstreamName, b.upstreamName, c.upstreamName]).toEqual(['gatehouse_ab_c1', 'gatehouse_ab_c2', 'gatehouse_ab_c3']);
    expect(t.bind('', statement('SELECT 4'), []).portal.upstreamName).toBe('');
  });

  it('a refused or skipped Bind puts back the portal it replaced (or none)', () => {
    const t = new PortalTable('gatehouse_ab_');
    const first = t.bind('p', statement('SELECT ssn FROM clinical.patients'), []);
    const second = t.bind('p', statement('SELECT 1'), []);
    t.undoBind(second.portal, second.previous);
    expect(t.resolve('p')).toEqual({ kind: 'portal', portal: first.portal });
    t.undoBind(first.portal, first.previous);
    expect(t.resolve('p').kind).toBe('unknown');
  });

  it('a refused or skipped Close keeps the portal; a later Bind of the name is not overwritten by the undo', () => {
    const t = new PortalTable('gatehouse_ab_');
    const { portal } = t.bind('p', statement('SELECT ssn FROM clinical.patients'), []);
    expect(t.close('p')).toBe(portal);
    expect(t.resolve('p').kind).toBe('unknown');
    t.undoClose(portal);
    expect(t.resolve('p')).toEqual({ kind: 'portal', portal });
    t.close('p');
    const next = t.bind('p', statement('SELECT 1'), []).portal;
    t.undoClose(portal);
    expect(t.resolve('p')).toEqual({ kind: 'portal', portal: next });
  });

  it('a name not bound here is a cursor only when the session DECLAREd it; otherwise unknown', () => {
    const t = new PortalTable('gatehouse_ab_');
    expect(t.resolve('c').kind).toBe('unknown');
    t.noteDeclared('c');
    expect(t.resolve('c').kind).toBe('cursor');
    const { portal } = t.bind('c', statement('SELECT 1'), []);
    expect(t.resolve('c')).toEqual({ kind: 'portal', portal }); // the protocol portal of that name wins
  });

  it('target: a reserved name is refused (42939), an unknown one too (34000)', () => {
    const t = new PortalTable('gatehouse_ab_');
    const code = (x: unknown) => (x instanceof Error && 'sqlstate' in x ? x.sqlstate : x);
    expect(code(t.target('gatehouse_ab_c1'))).toBe('42939');
    expect(code(t.target('nope'))).toBe('34000');
    t.noteDeclared('c');
    expect(t.target('c')).toBeNull();
  });

  it('describeTarget: the unnamed portal not bound here goes upstream (null); otherwise as target', () => {
    const t = new PortalTable('gatehouse_ab_');
    const code = (x: unknown) => (x instanceof Error && 'sqlstate' in x ? x.sqlstate : x);
    expect(t.describeTarget('')).toBeNull();
    expect(code(t.target(''))).toBe('34000'); // an Execute of it is still refused
    expect(code(t.describeTarget('nope'))).toBe('34000');
    expect(code(t.describeTarget('gatehouse_ab_c1'))).toBe('42939');
    const { portal } = t.bind('', statement('SELECT 1'), []);
    expect(t.describeTarget('')).toBe(portal);
  });
});

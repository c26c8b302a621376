import { describe, expect, it } from 'vitest';
import { byNameReach } from './by-name-reach.ts';
import { replaceableByRelation, replaceableSet } from './replaceable-functions.ts';

describe('replaceableByRelation', () => {
  const set = replaceableSet([{ schema: 'public', name: 'mine' }, { schema: 'app', name: 'check_it' }]);

  it('keeps, per relation, the trigger functions and calls the upstream role could replace, sorted and once', () => {
    const triggers = new Map([[1, [{ function: 'public.mine' }, { function: 'public.admins' }]], [2, [{ function: 'public.admins' }]]]);
    const calls = [new Map([[1, ['app.check_it', 'public.mine']]]), new Map([[3, ['app.check_it']]])];
    expect(replaceableByRelation(set, triggers, calls)).toEqual(new Map([[1, ['app.check_it', 'public.mine']], [3, ['app.check_it']]]));
  });

  it('is empty when the role could replace nothing', () => {
    expect(replaceableByRelation(new Set(), new Map([[1, [{ function: 'public.mine' }]]]), [])).toEqual(new Map());
  });

  it('follows what definitions bind (an SQL-standard body calling a replaceable function), transitively', () => {
    const reach = byNameReach({ canDefine: null, byName: [], edges: ['["app.atomic","app.middle"]', '["app.middle","public.mine"]'] });
    expect(replaceableByRelation(set, new Map(), [new Map([[5, ['app.atomic']]])], reach)).toEqual(new Map([[5, ['public.mine']]]));
  });

  it('lists the functions run whose bodies call by name, saying why, when the role can define code; none when it cannot', () => {
    const triggers = new Map([[1, [{ function: 'clinical.audit' }, { function: 'public.c_trigger' }]]]);
    const row = { canDefine: 'can create functions in schema public', byName: ['clinical.audit', 'app.plain'], edges: [] };
    expect(replaceableByRelation(new Set(), triggers, [], byNameReach(row))).toEqual(new Map([[1, ["clinical.audit (calls functions by name; Gatehouse's role can create functions in schema public)"]]]));
    expect(replaceableByRelation(new Set(), triggers, [], byNameReach({ ...row, canDefine: null }))).toEqual(new Map());
  });

  it('lists them too when the role can create temporary types such a body would find first (R20c-3), with that reason', () => {
    const triggers = new Map([[1, [{ function: 'clinical.audit' }]]]);
    const why = 'can create temporary objects in database clinic, and public.note does not set a search_path ending in pg_temp';
    const row = { canDefine: null, tempTypes: why, byName: ['clinical.audit'], edges: [] };
    expect(replaceableByRelation(new Set(), triggers, [], byNameReach(row))).toEqual(new Map([[1, [`clinical.audit (resolves type and table names when it runs; Gatehouse's role ${why})`]]]));
    expect(replaceableByRelation(new Set(), triggers, [], byNameReach({ ...row, tempTypes: null }))).toEqual(new Map());
  });
});

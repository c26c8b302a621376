import { describe, expect, it } from 'vitest';
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
});

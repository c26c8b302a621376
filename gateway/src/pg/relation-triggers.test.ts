import { describe, expect, it } from 'vitest';
import { triggerCallsByRelation, triggerShape, triggersByRelation, unpinnedByRelation } from './relation-triggers.ts';

describe('triggerShape', () => {
  it('decodes tgtype bits', () => {
    // BEFORE INSERT OR UPDATE ... FOR EACH ROW: ROW(1) | BEFORE(2) | INSERT(4) | UPDATE(16)
    expect(triggerShape(1 | 2 | 4 | 16)).toEqual({ timing: 'before', level: 'row', events: ['insert', 'update'] });
    // AFTER TRUNCATE ... FOR EACH STATEMENT
    expect(triggerShape(32)).toEqual({ timing: 'after', level: 'statement', events: ['truncate'] });
    // INSTEAD OF DELETE ... FOR EACH ROW (on a view)
    expect(triggerShape(1 | 64 | 8)).toEqual({ timing: 'instead_of', level: 'row', events: ['delete'] });
  });
});

describe('triggersByRelation', () => {
  it('names the table and the function qualified, and drops rows of unknown relations', () => {
    const rels = new Map([[10, { schema: 'public', name: 'orders' }]]);
    const rows = [
      { rel: 10, name: 'audit_it', type: 1 | 4, functionSchema: 'public', functionName: 'log_order', language: 'plpgsql', securityDefiner: true },
      { rel: 99, name: 'gone', type: 4, functionSchema: 'public', functionName: 'f', language: 'sql', securityDefiner: false },
    ];
    const out = triggersByRelation(rows, rels);
    expect([...out.keys()]).toEqual([10]);
    expect(out.get(10)).toEqual([
      { name: 'audit_it', table: 'public.orders', function: 'public.log_order', language: 'plpgsql', security_definer: true, timing: 'after', level: 'row', events: ['insert'] },
    ]);
  });
});

describe('triggerCallsByRelation', () => {
  it("collects the user functions each relation's trigger WHEN conditions call, each once (R12-5)", () => {
    const rels = new Map([[10, { schema: 'public', name: 'orders' }]]);
    const row = { name: 'a', type: 1 | 4, functionSchema: 'public', functionName: 'reviewed', language: 'plpgsql', securityDefiner: false };
    const out = triggerCallsByRelation(
      [
        { ...row, rel: 10, whenFunctions: ['public.leak'] },
        { ...row, rel: 10, name: 'b', whenFunctions: ['public.check_it', 'public.leak'] },
        { ...row, rel: 10, name: 'c' },
        { ...row, rel: 99, whenFunctions: ['public.gone'] },
      ],
      rels,
    );
    expect([...out.entries()]).toEqual([[10, ['public.check_it', 'public.leak']]]);
  });
});

describe('unpinnedByRelation', () => {
  it("collects the trigger and WHEN functions that resolve names with the writer's session; rows without the flags count every one (R18b-1)", () => {
    const rels = new Map([[10, {}], [11, {}]]);
    const row = { type: 1 | 4, functionSchema: 'public', language: 'plpgsql', securityDefiner: false };
    const out = unpinnedByRelation(
      [
        { ...row, rel: 10, name: 'a', functionName: 'pinned', functionPathPinned: true, whenFunctions: ['public.w1', 'public.w2'], whenUnpinned: ['public.w2'] },
        { ...row, rel: 10, name: 'b', functionName: 'loose', functionPathPinned: false },
        { ...row, rel: 11, name: 'c', functionName: 'old', whenFunctions: ['public.w3'] },
        { ...row, rel: 11, name: 'd', functionName: 'fine', functionPathPinned: true, whenUnpinned: [] },
        { ...row, rel: 99, name: 'e', functionName: 'gone' },
      ],
      rels,
    );
    expect([...out.entries()]).toEqual([
      [10, ['public.loose', 'public.w2']],
      [11, ['public.old', 'public.w3']],
    ]);
  });
});

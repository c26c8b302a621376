import { describe, expect, it } from 'vitest';
import { RelationCatalog, type RelationInfo, type TriggerInfo } from './relation-catalog.ts';
import { MAX_CHAIN_DEPTH, triggerChainOf } from './trigger-chain.ts';

function trigger(table: string, fn: string): TriggerInfo {
  return { name: `t_${fn.replace('.', '_')}`, table, function: fn, language: 'plpgsql', security_definer: false, timing: 'after', level: 'row', events: ['insert'] };
}

function rel(oid: number, name: string, triggers: TriggerInfo[] = []): RelationInfo {
  const qualified = `public.${name}`;
  return { oid, schema: 'public', name, qualified, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...(triggers.length > 0 ? { triggers } : {}) };
}

const CATALOG = new RelationCatalog(
  [rel(1, 'history', [trigger('public.history', 'public.copy')]), rel(2, 'plain', [trigger('public.plain', 'public.back')]), rel(3, 'quiet')],
  { hash: true },
);

describe('trigger chain (R20b-3)', () => {
  it('follows nothing without a `writes` in the reviews', () => {
    expect(triggerChainOf(['public.keep'], ['public.keep'], CATALOG)).toEqual({ triggers: [], functions: [], tables: [], replaceable: [], broken: [] });
  });

  it('follows the declared tables\' triggers, then the tables their functions\' reviews name, each once', () => {
    const chain = triggerChainOf(['public.keep'], ['public.keep writes public.history public.quiet', 'public.copy writes public.plain', 'public.back writes public.history'], CATALOG);
    expect(chain.functions.sort()).toEqual(['public.back', 'public.copy']);
    expect(chain.tables.sort()).toEqual(['public.history', 'public.plain', 'public.quiet']);
    expect(chain.triggers.map((t) => t.function).sort()).toEqual(['public.back', 'public.copy']);
    expect(chain.broken).toEqual([]);
  });

  it('a table the snapshot does not know, or no snapshot, breaks the declaring function\'s review', () => {
    expect(triggerChainOf(['public.keep'], ['public.keep writes public.missing'], CATALOG).broken).toEqual(['public.keep']);
    expect(triggerChainOf(['public.keep'], ['public.keep writes public.history'], null).broken).toEqual(['public.keep']);
  });

  it(`a chain longer than ${MAX_CHAIN_DEPTH} levels breaks the review that would go deeper`, () => {
    const n = MAX_CHAIN_DEPTH + 2;
    const rels = Array.from({ length: n }, (_, i) => rel(i + 1, `t${i}`, [trigger(`public.t${i}`, `public.f${i}`)]));
    const reviewed = ['public.keep writes public.t0', ...Array.from({ length: n - 1 }, (_, i) => `public.f${i} writes public.t${i + 1}`)];
    const chain = triggerChainOf(['public.keep'], reviewed, new RelationCatalog(rels, { hash: true }));
    expect(chain.tables).toHaveLength(MAX_CHAIN_DEPTH);
    expect(chain.broken).toEqual([`public.f${MAX_CHAIN_DEPTH - 1}`]);
  });

  it('follows a declared table as a write of it reaches: the triggers of its partitions (R21a-6)', () => {
    const parent = { ...rel(1, 'history'), kind: 'partitioned_table' as const };
    const part = { ...rel(2, 'history_all', [trigger('public.history_all', 'public.copy')]), ancestors: ['public.history'] };
    const chain = triggerChainOf(['public.keep'], ['public.keep writes public.history'], new RelationCatalog([parent, part], { hash: true }));
    expect(chain.triggers.map((t) => t.function)).toEqual(['public.copy']);
    expect(chain.functions).toEqual(['public.copy']);
    expect(chain.broken).toEqual([]);
  });

  it('a declared table with rules of its own breaks the declaring function\'s review (R21a-6)', () => {
    const ruled = { ...rel(1, 'history'), rules: true as const, reads: ['public.loot'] };
    const chain = triggerChainOf(['public.keep'], ['public.keep writes public.history'], new RelationCatalog([ruled, rel(2, 'loot')], { hash: true }));
    expect(chain.broken).toEqual(['public.keep']);
  });
});

import { describe, expect, it } from 'vitest';
import type { PolicyTrigger } from '../policy/types.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { writeEffects } from './write-triggers.ts';

const writeTriggers = (written: string[], catalog: RelationCatalog, truncate = false): PolicyTrigger[] => writeEffects(written, catalog, truncate).triggers;
const writeTriggerCalls = (written: string[], catalog: RelationCatalog): string[] => writeEffects(written, catalog).triggerCalls;
const writeCalls = (written: string[], catalog: RelationCatalog): string[] => writeEffects(written, catalog).calls;

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...more };
}

function trigger(table: string, name: string, fn: string): PolicyTrigger {
  return { name, table: `public.${table}`, function: `public.${fn}`, language: 'plpgsql', security_definer: false, timing: 'after', level: 'row', events: ['insert'] };
}

const CATALOG = new RelationCatalog(
  [
    rel(1, 'orders', { triggers: [trigger('orders', 'b_audit', 'audit'), trigger('orders', 'a_stamp', 'stamp')], actionWrites: ['public.lines'] }),
    rel(2, 'lines', { triggers: [trigger('lines', 'recalc', 'recalc')], actionWrites: ['public.orders'] }),
    rel(3, 'events', { kind: 'partitioned_table' }),
    rel(4, 'events_2026', { ancestors: ['public.events'], triggers: [trigger('events_2026', 'route', 'route')] }),
    rel(5, 'orders_view', { kind: 'view', reads: ['public.orders'], triggers: [trigger('orders_view', 'instead', 'instead')] }),
    rel(6, 'plain', { keys: [{ kind: 'referenced', name: 'refs_fkey', columns: ['id'], from: 'public.refs' }] }),
    rel(7, 'refs', { triggers: [trigger('refs', 'on_truncate', 'note')] }),
    rel(8, 'inbox', { reads: ['public.orders'] }),
    rel(9, 'guarded', { triggers: [trigger('guarded', 'stamp', 'reviewed')], triggerCalls: ['public.leak'] }),
    rel(10, 'defaults', { writeCalls: ['public.fill'] }),
    rel(11, 'defaults_child', { ancestors: ['public.defaults'], writeCalls: ['public.check_child'] }),
  ],
  { hash: true },
);

const names = (ts: PolicyTrigger[]): string[] => ts.map((t) => `${t.table}:${t.name}`);

describe('writeTriggers', () => {
  it('lists the triggers of a written table, sorted, and of the tables its foreign-key actions write (cycles cut)', () => {
    expect(names(writeTriggers(['public.orders'], CATALOG))).toEqual(['public.lines:recalc', 'public.orders:a_stamp', 'public.orders:b_audit']);
  });

  it("includes partitions' and child tables' triggers", () => {
    expect(names(writeTriggers(['public.events'], CATALOG))).toEqual(['public.events_2026:route']);
  });

  it("includes a written view's own triggers and those of the tables it reads", () => {
    expect(names(writeTriggers(['public.orders_view'], CATALOG))).toEqual([
      'public.lines:recalc',
      'public.orders:a_stamp',
      'public.orders:b_audit',
      'public.orders_view:instead',
    ]);
  });

  it("follows a table's rules (the relations its pg_rewrite rows name)", () => {
    expect(names(writeTriggers(['public.inbox'], CATALOG))).toEqual(['public.lines:recalc', 'public.orders:a_stamp', 'public.orders:b_audit']);
  });

  it('for TRUNCATE, follows every table whose foreign key references one (CASCADE), whatever its action', () => {
    expect(names(writeTriggers(['public.plain'], CATALOG))).toEqual([]);
    expect(names(writeTriggers(['public.plain'], CATALOG, true))).toEqual(['public.refs:on_truncate']);
  });

  it('is empty for tables without triggers and for relations the snapshot does not know', () => {
    expect(writeTriggers(['public.plain', 'public.nope'], CATALOG)).toEqual([]);
  });
});

describe('writeTriggerCalls', () => {
  it("lists the functions the WHEN conditions of the reached tables' triggers call (R12-5)", () => {
    expect(writeTriggerCalls(['public.guarded'], CATALOG)).toEqual(['public.leak']);
    expect(writeTriggerCalls(['public.orders'], CATALOG)).toEqual([]);
  });
});

describe('writeCalls', () => {
  it('lists the functions defaults, constraints and index expressions of the reached tables call, children too (R12-1)', () => {
    expect(writeCalls(['public.defaults'], CATALOG)).toEqual(['public.check_child', 'public.fill']);
    expect(writeCalls(['public.orders'], CATALOG)).toEqual([]);
  });
});

describe('writeEffects', () => {
  it('gives triggers, trigger functions and write calls of the same reached relations in one walk', () => {
    const both = new RelationCatalog([rel(1, 'a', { triggers: [trigger('a', 't', 'f')], triggerCalls: ['public.w'], writeCalls: ['public.d'], reads: ['public.b'] }), rel(2, 'b', { writeCalls: ['public.c', 'public.d'] })], { hash: true });
    expect(writeEffects(['public.a'], both)).toEqual({ triggers: [trigger('a', 't', 'f')], triggerCalls: ['public.w'], calls: ['public.c', 'public.d'], replaceable: [] });
    expect(writeEffects(['public.nope'], both)).toEqual({ triggers: [], triggerCalls: [], calls: [], replaceable: [] });
  });

  it('gives the functions the upstream role could replace of every reached relation (issue 6)', () => {
    const catalog = new RelationCatalog([
      rel(1, 'a', { triggers: [trigger('a', 't', 'f')], replaceableFunctions: ['public.f'], reads: ['public.b'] }),
      rel(2, 'b', { writeCalls: ['public.d'], replaceableFunctions: ['public.d'] }),
      rel(3, 'c', { replaceableFunctions: ['public.x'] }),
    ], { hash: true });
    expect(writeEffects(['public.a'], catalog).replaceable).toEqual(['public.d', 'public.f']);
    expect(writeEffects(['public.c'], catalog).replaceable).toEqual(['public.x']);
  });
});

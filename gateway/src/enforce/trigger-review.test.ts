import { describe, expect, it } from 'vitest';
import type { EngineVerdict, PolicyInput, PolicyTrigger } from '../policy/types.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';
import { alreadyMasked, horizonIdentity, horizonOf, triggerReviewRefusal, unvouchedTriggerFunctions } from './trigger-review.ts';

function rel(schema: string, name: string): RelationInfo {
  return { oid: name.length, schema, name, qualified: `${schema}.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [] };
}

const log: PolicyTrigger = { name: 'log_it', table: 'public.log', function: 'public.quote_ssn', language: 'plpgsql', security_definer: false, timing: 'before', level: 'row', events: ['insert'] };

function input(triggerFunctions: string[], triggers: PolicyTrigger[] = [log]): PolicyInput {
  return { statement: { tables_read: [], tables_written: ['public.log'], triggers, trigger_functions: triggerFunctions } } as unknown as PolicyInput;
}

const verdict = (more: Partial<EngineVerdict> = {}): EngineVerdict => ({ action: 'allow', reason: '', policies: [], masks: [], ...more });

const ROUTINES = new RoutineCatalog([
  { kind: 'function', schema: 'public', name: 'quote_ssn', harmless: false, retset: false },
  { kind: 'function', schema: 'public', name: 'stamp', harmless: false, retset: false },
  { kind: 'function', schema: 'pg_catalog', name: 'suppress_redundant_updates_trigger', harmless: true, retset: false },
  { kind: 'function', schema: 'pg_catalog', name: 'tsvector_update_trigger', harmless: true, retset: false },
  { kind: 'function', schema: 'contrib', name: 'check_primary_key', harmless: true, retset: false },
]);

/** No function of the snapshot resolves names with the writer's session. */
const ALL_PINNED: ReadonlySet<string> = new Set();

describe('unvouchedTriggerFunctions', () => {
  it("a review does not vouch for a function whose names the writer's session resolves, nor for any without the snapshot (R18b-1)", () => {
    const fired = ['public.quote_ssn', 'public.stamp'];
    const reviewed = verdict({ reviewed: ['public.quote_ssn', 'public.stamp'] });
    expect(unvouchedTriggerFunctions(input(fired), reviewed, ROUTINES, new Set(['public.stamp']))).toEqual({ unvouched: ['public.stamp'], unpinned: ['public.stamp'] });
    expect(unvouchedTriggerFunctions(input(fired), reviewed, ROUTINES, null)).toEqual({ unvouched: fired, unpinned: fired });
    // Unreviewed: unvouched either way, not for its name resolution.
    expect(unvouchedTriggerFunctions(input(fired), verdict(), ROUTINES, new Set(fired))).toEqual({ unvouched: fired });
    const e = triggerReviewRefusal([{ input: input(fired), decision: { id: 'd1', action: 'allow', reviewed: ['public.quote_ssn', 'public.stamp'] }, triggerReview: { unvouched: ['public.quote_ssn'], unpinned: ['public.quote_ssn'], identity: 'masked' } }]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('public.quote_ssn does not set its own search_path ending in pg_temp');
    expect(e?.hint).toContain('ALTER FUNCTION public.quote_ssn(...) SET search_path = <its schemas>, pg_temp');
  });

  it('lists the user trigger functions the verdict does not vouch for; built-in ones and reviewed ones pass', () => {
    const fired = ['pg_catalog.tsvector_update_trigger', 'public.quote_ssn', 'public.stamp'];
    expect(unvouchedTriggerFunctions(input(fired), verdict(), ROUTINES, ALL_PINNED).unvouched).toEqual(['public.quote_ssn', 'public.stamp']);
    expect(unvouchedTriggerFunctions(input(fired), verdict({ reviewed: ['public.stamp'] }), ROUTINES, ALL_PINNED).unvouched).toEqual(['public.quote_ssn']);
    expect(unvouchedTriggerFunctions(input([]), verdict(), ROUTINES, ALL_PINNED).unvouched).toEqual([]);
  });

  it('a review pinned to a definition vouches only while every trigger of the function runs that definition', () => {
    const d1 = `sha256:${'1'.repeat(64)}`;
    const d2 = `sha256:${'2'.repeat(64)}`;
    const fired = ['public.quote_ssn'];
    const at = (digest: string | undefined) => input(fired, [{ ...log, ...(digest === undefined ? {} : { function_digest: digest }) }]);
    expect(unvouchedTriggerFunctions(at(d1), verdict({ reviewed: [`public.quote_ssn@${d1}`] }), ROUTINES, ALL_PINNED).unvouched).toEqual([]);
    expect(unvouchedTriggerFunctions(at(d2), verdict({ reviewed: [`public.quote_ssn@${d1}`] }), ROUTINES, ALL_PINNED).unvouched).toEqual(['public.quote_ssn']);
    expect(unvouchedTriggerFunctions(at(undefined), verdict({ reviewed: [`public.quote_ssn@${d1}`] }), ROUTINES, ALL_PINNED).unvouched).toEqual(['public.quote_ssn']);
    expect(unvouchedTriggerFunctions(at(d2), verdict({ reviewed: ['public.quote_ssn'] }), ROUTINES, ALL_PINNED).unvouched).toEqual([]);
    const e = triggerReviewRefusal([{ input: at(d2), decision: { id: 'd1', action: 'allow', reviewed: [`public.quote_ssn@${d1}`] }, triggerReview: { unvouched: fired, identity: 'masked' } }]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('another definition');
    expect(e?.detail).toBe(`reviewed: ${d1}; now: ${d2}`);
    expect(e?.hint).toContain(`public.quote_ssn@${d2}`);
  });

  it('counts a built-in function whose effect tells a stored value, and C functions outside pg_catalog (red-team round 17a)', () => {
    const fired = ['contrib.check_primary_key', 'pg_catalog.suppress_redundant_updates_trigger', 'pg_catalog.tsvector_update_trigger'];
    expect(unvouchedTriggerFunctions(input(fired), verdict(), ROUTINES, ALL_PINNED).unvouched).toEqual(['contrib.check_primary_key', 'pg_catalog.suppress_redundant_updates_trigger']);
    expect(unvouchedTriggerFunctions(input(fired), verdict({ reviewed: ['contrib.check_primary_key'] }), ROUTINES, ALL_PINNED).unvouched).toEqual(['pg_catalog.suppress_redundant_updates_trigger']);
  });

  it('counts every function without the routine catalog, and one it does not know (fail closed)', () => {
    expect(unvouchedTriggerFunctions(input(['pg_catalog.suppress_redundant_updates_trigger']), verdict(), null, ALL_PINNED).unvouched).toEqual(['pg_catalog.suppress_redundant_updates_trigger']);
    expect(unvouchedTriggerFunctions(input(['public.created_later']), verdict(), ROUTINES, ALL_PINNED).unvouched).toEqual(['public.created_later']);
  });
});

describe('under a mask', () => {
  it("the write's own masks, detections or read probe say so", () => {
    expect(alreadyMasked(verdict(), undefined)).toBe(false);
    expect(alreadyMasked(verdict({ masks: [{ table: 't', column: 'c', strategy: 'redact', policy: 'p' }] }), undefined)).toBe(true);
    expect(alreadyMasked(verdict(), { tables: ['t'], outcome: 'read', masks: [] })).toBe(false);
    expect(alreadyMasked(verdict(), { tables: ['t'], outcome: 'denied', masks: [] })).toBe(true);
    expect(alreadyMasked(verdict(), { tables: ['t'], outcome: 'read', masks: [{ table: 't', column: 'c', strategy: 'null' }] })).toBe(true);
  });

  it('the horizon probe is clear only when every relation is read without masks', () => {
    expect(horizonIdentity({ tables: ['a'], outcome: 'read', masks: [] })).toBe('clear');
    expect(horizonIdentity({ tables: ['a'], outcome: 'read', masks: [{ table: 'a', column: 'c', strategy: 'hash' }] })).toBe('masked');
    expect(horizonIdentity({ tables: ['a'], outcome: 'denied', masks: [] })).toBe('masked');
    expect(horizonIdentity({ tables: ['a'], outcome: 'failed', masks: [] })).toBe('masked');
    expect(horizonIdentity({ tables: ['a'], outcome: 'read', masks: [] }, [{ table: 'a', column: 'notes' }])).toBe('masked');
  });

  it('the horizon is every relation outside the system schemas, made once per snapshot', () => {
    const catalog = new RelationCatalog([rel('public', 'log'), rel('pg_catalog', 'pg_class'), rel('clinical', 'patients'), rel('information_schema', 'tables')], { hash: true });
    const horizon = horizonOf(catalog);
    expect(horizon.tables).toEqual(['clinical.patients', 'public.log']);
    expect(horizonOf(catalog)).toBe(horizon);
  });
});

describe('triggerReviewRefusal', () => {
  const s = (identity: 'clear' | 'masked', action = 'allow', fired = ['public.quote_ssn']) => ({ input: input(fired), decision: { id: 'd1', action }, triggerReview: { unvouched: fired, identity } });

  it('refuses (0A000) under a mask, naming the trigger, its table and function and how to vouch for it', () => {
    const e = triggerReviewRefusal([s('masked')]);
    expect(e?.code).toBe('FEATURE_NOT_SUPPORTED');
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('trigger log_it on public.log, whose function public.quote_ssn');
    expect(e?.hint).toContain('@reviewed("public.quote_ssn")');
  });

  it('names a WHEN-condition function as such', () => {
    const e = triggerReviewRefusal([{ input: input(['public.when_check'], []), decision: { id: 'd1', action: 'allow' }, triggerReview: { unvouched: ['public.when_check'], identity: 'masked' } }]);
    expect(e?.message).toContain('calls public.when_check in its WHEN condition');
  });

  it('lets a clear identity, a denied statement and a write without such functions through', () => {
    expect(triggerReviewRefusal([s('clear')])).toBeNull();
    expect(triggerReviewRefusal([s('masked', 'deny')])).toBeNull();
    expect(triggerReviewRefusal([{ input: input([]), decision: { id: 'd1', action: 'allow' } }])).toBeNull();
  });
});

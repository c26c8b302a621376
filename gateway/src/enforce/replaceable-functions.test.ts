import { describe, expect, it } from 'vitest';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { byNameEntry, replaceableRefusal, tempTypesEntry } from './replaceable-functions.ts';
import type { ProbedStatement } from './write-probe.ts';

const input = (written: string[], replaceable: string[]): PolicyInput =>
  ({ statement: { tables_read: [], tables_written: written, replaceable_functions: replaceable } }) as unknown as PolicyInput;

const decision = (action: Decision['action'], masked: boolean): Decision => ({
  id: 'd1',
  action,
  reason: 'r',
  policies: [],
  masks: masked ? [{ table: 'public.t', column: 'secret', strategy: 'redact', policy: 'p' }] : [],
}) as unknown as Decision;

const write = (replaceable: string[], masked = true, action: Decision['action'] = 'mask'): ProbedStatement => ({
  text: 'w',
  input: input(['public.t'], replaceable),
  decision: decision(action, masked),
});

describe('replaceableRefusal', () => {
  it('refuses (0A000) a write under a mask that runs a function the upstream role could replace, naming it', () => {
    const e = replaceableRefusal([write(['public.stamp'])]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('public.stamp');
    expect(e?.hint).toContain('Have an administrator own the function');
  });

  it('counts what the trigger chain its reviews declare runs (R20b-3: triggerReview.chainedReplaceable)', () => {
    const chained = { ...write([]), triggerReview: { unvouched: [], identity: 'masked' as const, chainedReplaceable: ['public.chained'] } };
    const e = replaceableRefusal([chained]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('public.chained');
  });

  it('leaves alone a write without a mask, a denied one, and one running no replaceable function', () => {
    expect(replaceableRefusal([write(['public.stamp'], false, 'allow')])).toBeNull();
    expect(replaceableRefusal([write(['public.stamp'], true, 'deny')])).toBeNull();
    expect(replaceableRefusal([write([])])).toBeNull();
  });

  it('refuses a write running a function whose body calls by name while the role can define code, saying why and what to revoke', () => {
    const e = replaceableRefusal([write([byNameEntry('clinical.audit', 'can create functions in schema public')])]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('it runs clinical.audit, whose body calls functions by name');
    expect(e?.message).toContain('can define functions a trigger could call by name (it can create functions in schema public)');
    expect(e?.message).not.toContain('could replace or alter');
    expect(e?.hint).toContain('Revoke CREATE on every schema');
    const both = replaceableRefusal([write(['public.stamp', byNameEntry('clinical.audit', 'owns public.stamp')])]);
    expect(both?.message).toContain('it runs public.stamp (');
    expect(both?.hint).toContain('Have an administrator own the function');
  });

  it('refuses a write running a body that resolves names while the role can create temporary types (R20c-3), saying what to revoke or pin', () => {
    const why = 'can create temporary objects in database clinic, and public.note does not set a search_path ending in pg_temp';
    const e = replaceableRefusal([write([tempTypesEntry('clinical.audit', why)])]);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.message).toContain('it runs clinical.audit, whose body resolves names when it runs');
    expect(e?.message).toContain(`can create temporary types and tables, which such a body finds before the ones it means unless its search_path lists pg_temp (it ${why})`);
    expect(e?.message).not.toContain('can define functions');
    expect(e?.hint).toContain('REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC');
    expect(e?.hint).toContain('SET search_path = <its schemas>, pg_temp');
    expect(e?.hint).not.toContain('Revoke CREATE');
    expect(e?.detail).toBe(`functions whose bodies resolve names when they run: clinical.audit (the upstream role ${why})`);
    // Both reasons at once: both said, each function once per reason.
    const both = replaceableRefusal([write([byNameEntry('clinical.audit', 'can create functions in schema public'), tempTypesEntry('clinical.audit', why)])]);
    expect(both?.message).toContain('can define functions a trigger could call by name');
    expect(both?.message).toContain('can create temporary types and tables');
    expect(both?.hint).toContain('Revoke CREATE on every schema');
    expect(both?.hint).toContain('Revoke TEMPORARY');
  });
});

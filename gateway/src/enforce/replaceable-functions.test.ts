import { describe, expect, it } from 'vitest';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { replaceableRefusal } from './replaceable-functions.ts';
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

  it('leaves alone a write without a mask, a denied one, and one running no replaceable function', () => {
    expect(replaceableRefusal([write(['public.stamp'], false, 'allow')])).toBeNull();
    expect(replaceableRefusal([write(['public.stamp'], true, 'deny')])).toBeNull();
    expect(replaceableRefusal([write([])])).toBeNull();
  });
});

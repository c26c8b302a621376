// Cedar slices: which policies a request can need, and which context attributes they read.

import { describe, expect, it } from 'vitest';
import { cedarSlicer, wholeSetSlicer } from './cedar-slices.ts';

const TEXTS: Record<string, string> = {
  'any-execute': 'permit (principal, action == Gatehouse::Action::"execute", resource) when { context.kind == "select" };',
  'agents-read': 'permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"read", resource is Gatehouse::Table) when { context has columns };',
  'read-write': 'forbid (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource) when { context.functions.contains("f") };',
  'one-agent': 'forbid (principal == Gatehouse::Agent::"mallory", action, resource);',
  'group-eq': 'forbid (principal == Gatehouse::Group::"agents", action, resource);',
  'agent-in-group': 'permit (principal is Gatehouse::Agent in Gatehouse::Group::"ops", action, resource is Gatehouse::Database);',
  'table-only': 'permit (principal, action, resource == Gatehouse::Table::"public.t");',
  'whole-context': 'forbid (principal, action == Gatehouse::Action::"write", resource) when { context == {} };',
};

const alice = { subject: 'alice', groups: ['agents'] };
const mallory = { subject: 'mallory', groups: ['ops'] };

describe('cedarSlicer', () => {
  const slicer = cedarSlicer(TEXTS);

  it('keeps the policies whose action, resource type and principal scopes can match', () => {
    expect(Object.keys(slicer.slice('execute', alice).texts)).toEqual(['any-execute']);
    expect(Object.keys(slicer.slice('execute', mallory).texts)).toEqual(['any-execute', 'one-agent', 'agent-in-group']);
    expect(Object.keys(slicer.slice('read', alice).texts)).toEqual(['agents-read', 'read-write', 'table-only']);
    expect(Object.keys(slicer.slice('read', mallory).texts)).toEqual(['read-write', 'one-agent', 'table-only']);
    expect(Object.keys(slicer.slice('write', alice).texts)).toEqual(['read-write', 'table-only', 'whole-context']);
  });

  it('names the context attributes the kept policies read, or all of it', () => {
    expect(slicer.slice('execute', alice).context).toEqual(new Set(['kind']));
    expect(slicer.slice('read', alice).context).toEqual(new Set(['columns', 'functions']));
    expect(slicer.slice('write', alice).context).toBe('all');
  });

  it('gives the same slice object to principals the scopes cannot tell apart', () => {
    expect(slicer.slice('read', alice)).toBe(slicer.slice('read', { subject: 'bob', groups: ['agents', 'other'] }));
    expect(slicer.slice('read', alice).key).not.toBe(slicer.slice('read', mallory).key);
  });

  it('reports an empty slice when nothing can apply', () => {
    const none = cedarSlicer({ only: TEXTS['agents-read']! }).slice('execute', alice);
    expect(none.policies).toBe(0);
    expect(none.texts).toEqual({});
  });

  it('reads a context attribute through `has` on a path', () => {
    const s = cedarSlicer({ p: 'permit (principal, action, resource) when { context has copy_endpoint.x };' }).slice('execute', alice);
    expect(s.context).toEqual(new Set(['copy_endpoint']));
  });

  it('names the principal and resource attributes read, and sends groups only when another entity is read', () => {
    const s = cedarSlicer({
      p: 'permit (principal, action, resource) when { principal.issuer == "i" && resource has schema && principal in Gatehouse::Group::"g" };',
    }).slice('read', alice);
    expect(s.principalAttributes).toEqual(new Set(['issuer']));
    expect(s.resourceAttributes).toEqual(new Set(['schema']));
    expect(s.otherEntities).toBe(false);
  });

  it('reads everything when an attribute is taken from anything but context, principal or resource', () => {
    for (const condition of ['{ a: context.setting }.a == "x"', 'Gatehouse::Group::"g".name == "x"', '(if true then principal else resource) has name']) {
      const s = cedarSlicer({ p: `permit (principal, action, resource) when { ${condition} };` }).slice('execute', alice);
      expect({ condition, context: s.context, principal: s.principalAttributes, resource: s.resourceAttributes, other: s.otherEntities }).toEqual({
        condition,
        context: 'all',
        principal: 'all',
        resource: 'all',
        other: true,
      });
    }
  });

  it('reads nothing behind an `&&` that is false for the action or the resource type of the slice', () => {
    const s = cedarSlicer({
      p:
        'forbid (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"execute"], resource) when { ' +
        '(resource is Gatehouse::Table && resource.name == "x") || ' +
        '(action == Gatehouse::Action::"execute" && !context.functions.isEmpty() && context.functions.containsAny(["f"])) };',
    });
    const read = s.slice('read', alice);
    expect([read.context, read.resourceAttributes]).toEqual([new Set(), new Set(['name'])]);
    const execute = s.slice('execute', alice);
    expect([execute.context, execute.resourceAttributes]).toEqual([new Set(['functions']), new Set()]);
  });

  it('still reads behind an `&&` whose left side may hold: another operator, an unqualified type, an action set', () => {
    for (const guard of ['action != Gatehouse::Action::"read"', 'resource is Database', 'action in [Gatehouse::Action::"execute"]', 'resource is Gatehouse::Database']) {
      const s = cedarSlicer({ p: `forbid (principal, action, resource) when { ${guard} && context.kind == "x" };` }).slice('execute', alice);
      expect({ guard, context: s.context }).toEqual({ guard, context: new Set(['kind']) });
    }
  });

  it('wholeSetSlicer gives every request everything', () => {
    const whole = wholeSetSlicer(TEXTS).slice('read', alice);
    expect(whole.policies).toBe(Object.keys(TEXTS).length);
    expect(whole.context).toBe('all');
  });
});

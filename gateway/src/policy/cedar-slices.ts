// Slices a Cedar policy set per request: the policies whose scope can match a request for that
// action, resource type and principal, and the attributes those policies can read. Cedar evaluates
// a policy's scope before its conditions and short-circuits, so a policy whose scope cannot match
// is never satisfied and never errors: leaving it out changes no answer. An attribute (of the
// context, the principal, the resource) no policy of the slice names cannot be observed either,
// nor can group entities when no policy reads another entity's attributes. All of it cuts the
// work of every authorization call (cedar-wasm converts every entity and context attribute it is
// given and evaluates every policy).

import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { GatehouseError } from '../errors.ts';

export type CedarAction = 'read' | 'write' | 'execute';

export const CEDAR_ACTIONS: readonly CedarAction[] = ['read', 'write', 'execute'];

export const CEDAR_NAMESPACE = 'Gatehouse';

/** The resource type of each action's requests (cedar-engine.ts builds them). */
const RESOURCE_TYPE: Record<CedarAction, string> = {
  read: `${CEDAR_NAMESPACE}::Table`,
  write: `${CEDAR_NAMESPACE}::Table`,
  execute: `${CEDAR_NAMESPACE}::Database`,
};

export interface CedarSlice {
  /** Names the slice within its set: the action and which of its policies are kept (0/1 each). */
  key: string;
  /** How many policies it holds; with none, Cedar's answer is known: deny, determined by nothing. */
  policies: number;
  /** The policies that can apply, by id, in the set's order. */
  texts: Record<string, string>;
  /** Context attributes some policy of the slice can read, or 'all' when one reads `context` whole. */
  context: ReadonlySet<string> | 'all';
  /** Attributes of the principal and of the resource some policy of the slice can read. */
  principalAttributes: ReadonlySet<string> | 'all';
  resourceAttributes: ReadonlySet<string> | 'all';
  /** Whether some policy can read another entity's attributes (then groups must be sent). */
  otherEntities: boolean;
}

/** Who asks, as the engine's requests present them: an Agent whose parents are its groups. */
export interface CedarPrincipal {
  subject: string;
  /** Groups and roles; groups have no parents of their own. */
  groups: readonly string[];
}

interface EntityRef {
  type: string;
  id: string;
}

/** The EST form of a scope constraint (cedar-wasm's policyToJson). */
interface ScopeJson {
  op: string;
  entity?: EntityRef | { slot: string };
  entities?: EntityRef[];
  entity_type?: string;
  in?: { entity?: EntityRef | { slot: string } };
}

interface ScopedPolicy {
  id: string;
  text: string;
  principal: ScopeJson;
  /** What its conditions can read in a request for the action the policy is filed under. */
  reads: AttributeReads;
}

/** Slices of one policy set, computed per (action, principal) and remembered. */
export interface CedarSlicer {
  slice(action: CedarAction, principal: CedarPrincipal): CedarSlice;
}

/** Distinct slices remembered per set; past it the memory starts over (only costs recomputation). */
const MAX_REMEMBERED = 256;

export function cedarSlicer(texts: Record<string, string>): CedarSlicer {
  const byAction = {} as Record<CedarAction, ScopedPolicy[]>;
  for (const action of CEDAR_ACTIONS) byAction[action] = [];
  for (const [id, text] of Object.entries(texts)) {
    const json = policyToJson(text);
    if (json.type === 'failure') {
      throw new GatehouseError('CONFIG_INVALID', `Cedar policy ${id} does not parse`, { detail: json.errors.map((e) => e.message).join('\n') });
    }
    const est = json.json as unknown as { principal: ScopeJson; action: ScopeJson; resource: ScopeJson; conditions: unknown };
    for (const action of CEDAR_ACTIONS) {
      if (actionCanMatch(est.action, action) && resourceCanMatch(est.resource, RESOURCE_TYPE[action])) {
        byAction[action].push({ id, text, principal: est.principal, reads: attributeReads(est.conditions, { action, resourceType: RESOURCE_TYPE[action] }) });
      }
    }
  }
  const remembered = new Map<string, CedarSlice>();
  return {
    slice(action, principal) {
      const candidates = byAction[action];
      let signature = '';
      for (const policy of candidates) signature += principalCanMatch(policy.principal, principal) ? '1' : '0';
      const memoKey = `${action}:${signature}`;
      const known = remembered.get(memoKey);
      if (known !== undefined) return known;
      const slice = buildSlice(memoKey, candidates.filter((_, i) => signature[i] === '1'));
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.set(memoKey, slice);
      return slice;
    },
  };
}

/** No slicing: every request gets the whole set and the whole context (what slicing is tested against). */
export function wholeSetSlicer(texts: Record<string, string>): CedarSlicer {
  const whole: CedarSlice = {
    key: 'whole',
    policies: Object.keys(texts).length,
    texts,
    context: 'all',
    principalAttributes: 'all',
    resourceAttributes: 'all',
    otherEntities: true,
  };
  return { slice: () => whole };
}

function buildSlice(key: string, policies: readonly ScopedPolicy[]): CedarSlice {
  const texts: Record<string, string> = {};
  const union: AttributeReads = { context: new Set(), principal: new Set(), resource: new Set(), otherEntities: false };
  for (const policy of policies) {
    texts[policy.id] = policy.text;
    for (const v of READ_VARS) union[v] = unionNames(union[v], policy.reads[v]);
    union.otherEntities ||= policy.reads.otherEntities;
  }
  return {
    key,
    policies: policies.length,
    texts,
    context: union.context,
    principalAttributes: union.principal,
    resourceAttributes: union.resource,
    otherEntities: union.otherEntities,
  };
}

function unionNames(a: Names, b: Names): Names {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

/**
 * The principal is an Agent whose only ancestors are its groups (which have none): `principal in
 * Group::"g"` holds exactly when g is one of them, `principal == E` only when E is this Agent.
 * Anything else (a slot, an unknown operator) is kept.
 */
function principalCanMatch(scope: ScopeJson, principal: CedarPrincipal): boolean {
  switch (scope.op) {
    case 'All':
      return true;
    case '==':
      return scope.entity === undefined || !isEntity(scope.entity) || isAgent(scope.entity, principal);
    case 'in':
      return scope.entity === undefined || !isEntity(scope.entity) || isAncestorOrSelf(scope.entity, principal);
    case 'is': {
      if (scope.entity_type !== AGENT_TYPE) return false;
      const within = scope.in?.entity;
      return within === undefined || !isEntity(within) || isAncestorOrSelf(within, principal);
    }
    default:
      return true;
  }
}

const AGENT_TYPE = `${CEDAR_NAMESPACE}::Agent`;
const GROUP_TYPE = `${CEDAR_NAMESPACE}::Group`;

function isAgent(entity: EntityRef, principal: CedarPrincipal): boolean {
  return entity.type === AGENT_TYPE && entity.id === principal.subject;
}

function isAncestorOrSelf(entity: EntityRef, principal: CedarPrincipal): boolean {
  return isAgent(entity, principal) || (entity.type === GROUP_TYPE && principal.groups.includes(entity.id));
}

/**
 * Requests carry no action entities, so Cedar knows no action hierarchy: `action in [...]` holds
 * exactly when the action is listed. Anything else (a slot, an unknown operator) is kept.
 */
function actionCanMatch(scope: ScopeJson, action: CedarAction): boolean {
  const uid: EntityRef = { type: `${CEDAR_NAMESPACE}::Action`, id: action };
  switch (scope.op) {
    case 'All':
      return true;
    case '==':
    case 'in':
      if (scope.entities !== undefined) return scope.entities.some((e) => sameEntity(e, uid));
      return scope.entity === undefined || !isEntity(scope.entity) || sameEntity(scope.entity, uid);
    default:
      return true;
  }
}

/**
 * A request's resource has no parents, so `resource in E` holds only when it is E: a scope naming
 * another entity type (or `is` another type) cannot match. Anything else is kept.
 */
function resourceCanMatch(scope: ScopeJson, type: string): boolean {
  switch (scope.op) {
    case 'is':
      return scope.entity_type === type;
    case '==':
    case 'in':
      return scope.entity === undefined || !isEntity(scope.entity) || scope.entity.type === type;
    default:
      return true;
  }
}

function isEntity(value: EntityRef | { slot: string }): value is EntityRef {
  return 'type' in value && 'id' in value;
}

function sameEntity(a: EntityRef, b: EntityRef): boolean {
  return a.type === b.type && a.id === b.id;
}

type Names = Set<string> | 'all';

/** What a policy's conditions read of a request. */
export interface AttributeReads {
  context: Names;
  principal: Names;
  resource: Names;
  /** Attributes of some other entity (a group, an entity literal, an expression's result). */
  otherEntities: boolean;
}

const READ_VARS = ['context', 'principal', 'resource'] as const;

/** What every request of a slice has in common: its action and its resource's type. */
export interface RequestShape {
  action: CedarAction;
  resourceType: string;
}

/**
 * The attributes EST conditions read: `context.x`, `principal has x`, `resource["x"]` (one EST
 * node). Bare `principal`/`resource` (compared, `in`, `is`) read no attribute; bare `context`
 * reads all of it. An access on anything else (an entity literal, `action`, an `if`'s result)
 * could reach any entity's attributes: then everything is read. The right side of an `&&` whose left
 * side is false for every request of `shape` (`action == <another action>`, `resource is <another
 * type>`) is never evaluated (Cedar's `&&` stops at a false left side, errors included), so it reads
 * nothing.
 */
export function attributeReads(node: unknown, shape: RequestShape): AttributeReads {
  const reads: AttributeReads = { context: new Set(), principal: new Set(), resource: new Set(), otherEntities: false };
  const readAll = (): void => {
    reads.context = 'all';
    reads.principal = 'all';
    reads.resource = 'all';
    reads.otherEntities = true;
  };
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    const record = value as Record<string, unknown>;
    if (record['Var'] === 'context') {
      reads.context = 'all';
      return;
    }
    const and = record['&&'] as { left?: unknown; right?: unknown } | undefined;
    if (and !== undefined && falseFor(and.left, shape)) {
      visit(and.left);
      return;
    }
    for (const op of ['.', 'has'] as const) {
      const access = record[op] as { left?: unknown; attr?: unknown } | undefined;
      if (access === undefined) continue;
      // `x has a.b` reads attribute a of x (attr is then the path as a list).
      const attr = Array.isArray(access.attr) ? (access.attr[0] as unknown) : access.attr;
      const variable = READ_VARS.find((v) => isVar(access.left, v));
      if (variable === undefined || typeof attr !== 'string') {
        readAll();
        visit(access.left);
        return;
      }
      const names = reads[variable];
      if (names !== 'all') names.add(attr);
      return;
    }
    // Literals ({"Value": ...}) hold data, never a variable; everything else is walked.
    for (const [key, child] of Object.entries(record)) if (key !== 'Value') visit(child);
  };
  visit(node);
  return reads;
}

/**
 * Whether an EST expression is false (or an error) for every request of `shape`: `action ==
 * Action::"a"` for another action, `resource is T` (with or without `in`) for another resource
 * type, or an `&&` with such a side. Anything else may be true.
 */
function falseFor(node: unknown, shape: RequestShape): boolean {
  if (typeof node !== 'object' || node === null) return false;
  const record = node as Record<string, unknown>;
  // `a && b` is false (or an error, which stops an enclosing `&&` just the same) when either side is.
  const and = record['&&'] as { left?: unknown; right?: unknown } | undefined;
  if (and !== undefined) return falseFor(and.left, shape) || falseFor(and.right, shape);
  const eq = record['=='] as { left?: unknown; right?: unknown } | undefined;
  if (eq !== undefined && isVar(eq.left, 'action')) {
    const value = (eq.right as { Value?: { __entity?: EntityRef } } | undefined)?.Value?.__entity;
    return value !== undefined && value.type === `${CEDAR_NAMESPACE}::Action` && typeof value.id === 'string' && value.id !== shape.action;
  }
  const is = record['is'] as { left?: unknown; entity_type?: unknown } | undefined;
  if (is !== undefined && isVar(is.left, 'resource')) {
    return typeof is.entity_type === 'string' && qualifiedType(is.entity_type) !== shape.resourceType;
  }
  return false;
}

/** A type name as the EST gives it: qualified already, or (in a policy without namespace) bare. */
function qualifiedType(name: string): string {
  return name.includes('::') ? name : `${CEDAR_NAMESPACE}::${name}`;
}

function isVar(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)['Var'] === name;
}

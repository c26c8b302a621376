// Cedar engine: one statement becomes one "execute" request on the database plus one "read"/"write"
// request per table; each request's answer becomes a partial verdict and combine.ts decides. Each
// request goes to the slice of the set that can apply to it (cedar-slices.ts), with only the context
// that slice reads.

import { statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import type { Context, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import { readCedarPolicySet } from './cedar-policies.ts';
import type { CedarPolicyMeaning, CedarPolicySet } from './cedar-policies.ts';
import { combineVerdicts, DEFAULT_DENY_ID, engineErrorVerdict, withReviewed } from './combine.ts';
import { cedarSetKey, preparsedSetId } from './cedar-preparsed-sets.ts';
import { CEDAR_NAMESPACE, cedarSlicer, wholeSetSlicer } from './cedar-slices.ts';
import type { CedarAction, CedarSlice, CedarSlicer } from './cedar-slices.ts';
import { cedarInputReads } from './input-reads.ts';
import type { EngineVerdict, PolicyEngine, PolicyInput } from './types.ts';

export interface CedarEngineOptions {
  /** A `.cedarschema` file; defaults to schemas/cedar/gatehouse.cedarschema. */
  schemaPath?: string;
  /** false: every request gets the whole set and context, the reference slicing is tested against. */
  slicing?: boolean;
}

interface CedarRequest {
  action: CedarAction;
  resource: EntityJson;
  /** How the resource is named in reasons: "clinical.patients", or "ddl statements". */
  label: string;
  context: Context;
}

const NS = CEDAR_NAMESPACE;

export async function loadCedarEngine(dir: string, revision: string, opts: CedarEngineOptions = {}): Promise<PolicyEngine> {
  const set = await readCedarPolicySet(dir, opts.schemaPath);
  return cedarEngineFromSet(set, revision, opts.slicing ?? true);
}

export function cedarEngineFromSet(set: CedarPolicySet, revision: string, slicing = true): PolicyEngine {
  // Same policies → same key → same slot; a set that does not parse fails here, at load.
  const setKey = cedarSetKey(set.texts);
  preparsedSetId(setKey, set.texts);
  const slicer = slicing ? cedarSlicer(set.texts) : wholeSetSlicer(set.texts);
  return {
    kind: 'cedar',
    revision,
    // Requests carry no clock or environment: the same input always gets the same answer.
    deterministic: true,
    reads: cedarInputReads(Object.values(set.texts)),
    spec: { kind: 'cedar', revision, set },
    evaluate(input: PolicyInput): EngineVerdict {
      try {
        return withReviewed(decide(setKey, slicer, set.meanings, input), set.reviewed ?? [], input);
      } catch (e) {
        return engineErrorVerdict(e instanceof Error ? e.message : String(e));
      }
    },
  };
}

type CedarResponse = Extract<ReturnType<typeof statefulIsAuthorized>, { type: 'success' }>['response'];

/** What Cedar answers when no policy can apply: deny, determined by nothing. */
const NOTHING_APPLIES: CedarResponse = { decision: 'deny', diagnostics: { reason: [], errors: [] } };

function decide(setKey: string, slicer: CedarSlicer, meanings: Map<string, CedarPolicyMeaning>, input: PolicyInput): EngineVerdict {
  const principal = principalEntities(input);
  const principalUid = principal[0]!.uid;
  const asker = { subject: input.identity.subject, groups: unique([...input.identity.groups, ...input.identity.roles]) };
  const parts: EngineVerdict[] = [];
  for (const request of requestsFor(input)) {
    const slice = slicer.slice(request.action, asker);
    let response = NOTHING_APPLIES;
    if (slice.policies > 0) {
      const answer = statefulIsAuthorized({
        principal: principalUid,
        action: { type: `${NS}::Action`, id: request.action },
        resource: request.resource.uid,
        context: contextFor(request.context, slice.context),
        preparsedPolicySetId: preparsedSetId(`${setKey}:${slice.key}`, slice.texts),
        entities: entitiesFor(slice, principal, request.resource),
      });
      if (answer.type === 'failure') {
        // One broken request breaks the whole statement: fail closed now.
        return engineErrorVerdict(answer.errors.map((e) => e.message).join('; '));
      }
      response = answer.response;
    }
    const { decision, diagnostics } = response;
    if (diagnostics.errors.length > 0) {
      // A policy that errors is skipped by Cedar; a skipped forbid must not let anything through.
      // Sorted: Cedar's order depends on the set's layout, and a verdict must not (slices differ).
      const errors = [...diagnostics.errors].sort((a, b) => (a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0));
      const detail = errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ');
      parts.push(engineErrorVerdict(detail, unique(errors.map((e) => e.policyId))));
      continue;
    }
    if (decision === 'deny') {
      if (diagnostics.reason.length === 0) {
        parts.push({ action: 'deny', reason: noPermitReason(request), policies: [DEFAULT_DENY_ID], masks: [] });
      }
      for (const id of diagnostics.reason) {
        const meaning = meanings.get(id);
        const reason = meaning?.reason;
        parts.push({ action: 'deny', reason: reason == null ? `denied by ${id}` : expandReason(reason, input), policies: [id], masks: [] });
      }
      continue;
    }
    for (const id of diagnostics.reason) {
      parts.push(permitVerdict(id, meanings.get(id), request));
    }
  }
  return combineVerdicts(parts);
}

function permitVerdict(id: string, meaning: CedarPolicyMeaning | undefined, request: CedarRequest): EngineVerdict {
  if (meaning === undefined || meaning.effect !== 'permit') {
    return engineErrorVerdict(`Cedar reported unknown permit policy ${id}`);
  }
  switch (meaning.outcome) {
    case 'allow':
      return { action: 'allow', reason: meaning.reason ?? `allowed by ${id}`, policies: [id], masks: [] };
    case 'approve':
      return { action: 'approve', reason: meaning.reason, policies: [id], masks: [], approval: meaning.approval };
    case 'mask': {
      if (request.action === 'execute') {
        // A mask needs a table: on a statement-level request it would be silently meaningless.
        return engineErrorVerdict(`@mask or @detect policy ${id} matched a statement, not a table`, [id]);
      }
      const table = request.label;
      const masks = meaning.columns.map(({ column, strategy }) => ({ table, column, strategy, policy: id }));
      const verdict: EngineVerdict = { action: 'mask', reason: meaning.reason ?? `columns masked by ${id}`, policies: [id], masks };
      if (meaning.detections.length > 0) {
        verdict.detections = meaning.detections.map(({ column, detectors }) => ({ table, column, detectors, policies: [id] }));
      }
      return verdict;
    }
    default: {
      const never: never = meaning;
      return engineErrorVerdict(`unknown policy meaning ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Cedar annotations are constants, so a reason names what it is about through placeholders filled
 * from the statement: `{settings}` (statement.settings, comma-separated), `{functions}`, `{kind}`.
 */
export function expandReason(reason: string, input: PolicyInput): string {
  return reason.replace(/\{(settings|functions|kind)\}/g, (_, name: 'settings' | 'functions' | 'kind') => {
    switch (name) {
      case 'settings':
        return listOrNone(input.statement.settings.length > 0 || input.statement.setting === null ? input.statement.settings : [input.statement.setting]);
      case 'functions':
        return listOrNone(input.statement.functions);
      case 'kind':
        return input.statement.kind;
      default: {
        const never: never = name;
        return String(never);
      }
    }
  });
}

function listOrNone(values: readonly string[]): string {
  return values.length === 0 ? '(none)' : values.join(', ');
}

function noPermitReason(request: CedarRequest): string {
  return request.action === 'execute'
    ? `no policy permits ${request.label}`
    : `no policy permits ${request.action} on ${request.label}`;
}

/** The principal first, then its groups (from both groups and roles). */
function principalEntities(input: PolicyInput): EntityJson[] {
  const groups = unique([...input.identity.groups, ...input.identity.roles]);
  const attrs: EntityJson['attrs'] = { issuer: input.identity.issuer };
  if (input.identity.name !== null) attrs['name'] = input.identity.name;
  const agent: EntityJson = {
    uid: { type: `${NS}::Agent`, id: input.identity.subject },
    attrs,
    parents: groups.map((id): EntityUidJson => ({ type: `${NS}::Group`, id })),
  };
  return [agent, ...groups.map((id): EntityJson => ({ uid: { type: `${NS}::Group`, id }, attrs: {}, parents: [] }))];
}

/**
 * The entities a slice can look at: the principal (its parents are what `in` tests) and the
 * resource with only the attributes the slice reads, the groups only when it can read theirs. A
 * resource none of whose attributes can be read is left out: it has no parents, so `in` and `==`
 * answer the same without it, and each entity costs cedar-wasm about 10 µs to convert.
 */
function entitiesFor(slice: CedarSlice, principal: EntityJson[], resource: EntityJson): EntityJson[] {
  const agent = withAttributes(principal[0]!, slice.principalAttributes);
  if (slice.otherEntities) return [agent, ...principal.slice(1), withAttributes(resource, slice.resourceAttributes)];
  if (slice.resourceAttributes !== 'all' && slice.resourceAttributes.size === 0) return [agent];
  return [agent, withAttributes(resource, slice.resourceAttributes)];
}

function withAttributes(entity: EntityJson, reads: CedarSlice['principalAttributes']): EntityJson {
  if (reads === 'all') return entity;
  const attrs: EntityJson['attrs'] = {};
  for (const name of reads) {
    const value = entity.attrs[name];
    if (value !== undefined) attrs[name] = value;
  }
  return { ...entity, attrs };
}

/** The context attributes a slice can read; the rest would only cost conversion in cedar-wasm. */
function contextFor(context: Context, reads: CedarSlice['context']): Context {
  if (reads === 'all') return context;
  const picked: Context = {};
  for (const name of reads) {
    const value = context[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** One execute request for the statement, then one per table read and one per table written. */
function requestsFor(input: PolicyInput): CedarRequest[] {
  const base = statementContext(input);
  const database = input.session.database;
  const requests: CedarRequest[] = [
    {
      action: 'execute',
      resource: { uid: { type: `${NS}::Database`, id: database }, attrs: { name: database }, parents: [] },
      label: `${input.statement.kind} statements`,
      context: { ...base, columns: [] },
    },
  ];
  const tables: Array<[CedarAction, string[]]> = [
    ['read', input.statement.tables_read],
    ['write', input.statement.tables_written],
  ];
  for (const [action, names] of tables) {
    for (const table of names) {
      requests.push({
        action,
        resource: tableEntity(table),
        label: table,
        context: { ...base, columns: input.statement.columns[table] ?? [] },
      });
    }
  }
  return requests;
}

function tableEntity(qualified: string): EntityJson {
  const dot = qualified.indexOf('.');
  const schema = dot < 0 ? '' : qualified.slice(0, dot);
  const name = dot < 0 ? qualified : qualified.slice(dot + 1);
  return { uid: { type: `${NS}::Table`, id: qualified }, attrs: { schema, name }, parents: [] };
}

/** The Statement record of the schema; Cedar has no null, so absent facts are absent attributes. */
function statementContext(input: PolicyInput): Context {
  const s = input.statement;
  const context: Context = {
    kind: s.kind,
    command: s.command,
    protocol: s.protocol,
    fingerprint: s.fingerprint,
    tables_read: s.tables_read,
    tables_written: s.tables_written,
    functions: s.functions,
    user_functions: s.user_functions ?? [],
    trigger_functions: s.trigger_functions ?? [],
    replaceable_functions: s.replaceable_functions ?? [],
    triggers: (s.triggers ?? []).map((t) => ({ ...t, events: [...t.events] })),
    settings: s.settings,
    runs_sql_text: s.runs_sql_text,
    has_where: s.has_where,
    unbounded_writes: s.unbounded_writes,
    locks_rows: s.locks_rows,
    has_limit: s.has_limit,
    writes: s.writes,
    cte_writes: s.cte_writes,
    explain_analyze: s.explain_analyze,
    database: input.session.database,
    session_user: input.session.user,
    application_name: input.session.application_name,
    client_address: input.session.client_address,
    tls: input.session.tls,
  };
  if (s.inner_kind !== null) context['inner_kind'] = s.inner_kind;
  if (s.prepared_name !== null) context['prepared_name'] = s.prepared_name;
  if (s.copy !== null) {
    context['copy_direction'] = s.copy.direction;
    context['copy_endpoint'] = s.copy.endpoint;
  }
  if (s.setting !== null) context['setting'] = s.setting;
  return context;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

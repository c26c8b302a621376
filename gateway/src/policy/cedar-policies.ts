// Loads a Cedar policy directory: splits it into policies, reads their Gatehouse annotations
// (@id, @approve and its @approvers/@quorum/@ttl/@reason_required/@grant, @mask, @detect, @reason, @reviewed) and validates the set against the Cedar schema. Refuses on any problem.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { policySetTextToParts, policyToJson, validate } from '@cedar-policy/cedar-wasm/nodejs';
import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';
import { GatehouseError } from '../errors.ts';
import { readPolicyFiles } from './policy-files.ts';
import { readApprovalRequirements } from './approval-requirements.ts';
import { DETECTOR_NAMES, MASK_STRATEGIES, type CedarPolicyMeaning, type CedarPolicySet, type DetectorName, type MaskStrategy } from './types.ts';
import { parseReviewedEntry } from './reviewed-entries.ts';

/** The schema shipped with Gatehouse, used when a policy directory brings none. */
export const DEFAULT_CEDAR_SCHEMA_PATH = fileURLToPath(new URL('../../../schemas/cedar/gatehouse.cedarschema', import.meta.url));

export type { CedarPolicyMeaning, CedarPolicySet } from './types.ts';

const STRATEGIES: ReadonlySet<string> = new Set<string>(MASK_STRATEGIES);
const DETECTORS: ReadonlySet<string> = new Set<string>(DETECTOR_NAMES);
/** What an @approve policy may say about its answers (policy/approval-requirements.ts). */
const APPROVAL_ANNOTATIONS = ['approvers', 'quorum', 'ttl', 'reason_required', 'grant'] as const;
const KNOWN_ANNOTATIONS = new Set(['id', 'approve', 'mask', 'detect', 'reason', 'reviewed', ...APPROVAL_ANNOTATIONS]);

export async function readCedarPolicySet(dir: string, schemaPath: string = DEFAULT_CEDAR_SCHEMA_PATH): Promise<CedarPolicySet> {
  const files = await readPolicyFiles(dir, 'cedar');
  if (files.length === 0) throw invalid(`no .cedar policy files in ${dir}`);
  const schema = await readFile(schemaPath, 'utf8');

  const texts: Record<string, string> = {};
  const meanings = new Map<string, CedarPolicyMeaning>();
  const reviewed = new Set<string>();
  for (const file of files) {
    const parts = policySetTextToParts(file.content);
    if (parts.type === 'failure') throw invalid(`${file.path} does not parse`, describe(parts.errors));
    if (parts.policy_templates.length > 0) throw invalid(`${file.path}: policy templates are not supported`);
    for (const text of parts.policies) {
      const json = policyToJson(text);
      if (json.type === 'failure') throw invalid(`${file.path} does not parse`, describe(json.errors));
      const annotations = json.json.annotations ?? {};
      const id = annotations['id'];
      if (id === undefined || id.trim() === '') {
        throw invalid(`${file.path}: every policy needs an @id("...") annotation`, firstLine(text));
      }
      if (Object.prototype.hasOwnProperty.call(texts, id)) throw invalid(`${file.path}: policy id "${id}" is used twice`);
      texts[id] = text;
      meanings.set(id, meaningOf(id, json.json.effect, annotations, file.path));
      if (annotations['reviewed'] !== undefined) for (const f of parseReviewed(id, annotations['reviewed'], file.path)) reviewed.add(f);
    }
  }

  const answer = validate({ schema, policies: { staticPolicies: texts }, validationSettings: { mode: 'strict' } });
  if (answer.type === 'failure') throw invalid(`the Cedar schema ${schemaPath} or the policies do not parse`, describe(answer.errors));
  if (answer.validationErrors.length > 0) {
    const detail = answer.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join('\n');
    throw invalid(`Cedar policies in ${dir} do not validate against ${schemaPath}`, detail);
  }
  return { texts, meanings, reviewed: [...reviewed].sort() };
}

function meaningOf(id: string, effect: 'permit' | 'forbid', annotations: Record<string, string>, file: string): CedarPolicyMeaning {
  for (const name of Object.keys(annotations)) {
    if (!KNOWN_ANNOTATIONS.has(name)) throw invalid(`${file}: policy "${id}" has an unknown annotation @${name}`);
  }
  const reason = annotations['reason'] ?? null;
  const approve = annotations['approve'];
  const mask = annotations['mask'];
  const detect = annotations['detect'];
  if (effect === 'forbid') {
    if (APPROVAL_ANNOTATIONS.some((name) => annotations[name] !== undefined)) throw invalid(`${file}: forbid policy "${id}" cannot carry approval annotations`);
    if (approve !== undefined || mask !== undefined || detect !== undefined) {
      throw invalid(`${file}: forbid policy "${id}" cannot carry @approve, @mask or @detect`);
    }
    return { effect, reason };
  }
  if (approve !== undefined && (mask !== undefined || detect !== undefined)) {
    throw invalid(`${file}: policy "${id}" has @approve and @mask or @detect; split it`);
  }
  const approvalFields = APPROVAL_ANNOTATIONS.filter((name) => annotations[name] !== undefined);
  if (approve === undefined && approvalFields.length > 0) {
    throw invalid(`${file}: policy "${id}" has @${approvalFields[0]} without @approve`);
  }
  if (approve !== undefined) {
    const read = readApprovalRequirements(Object.fromEntries(approvalFields.map((name) => [name, annotations[name]])));
    if (!read.ok) throw invalid(`${file}: @approve policy "${id}" ${read.problem}`, 'e.g. @approvers("clinical-leads") @quorum("1") @ttl("1h") @reason_required("true") @grant("30m")');
    return { effect, outcome: 'approve', reason: approve.trim() || `approval required by ${id}`, approval: read.requirements };
  }
  if (mask !== undefined || detect !== undefined) {
    return {
      effect,
      outcome: 'mask',
      reason,
      columns: mask === undefined ? [] : parseMask(id, mask, file),
      detections: detect === undefined ? [] : parseDetect(id, detect, file),
    };
  }
  return { effect, outcome: 'allow', reason };
}

/**
 * "public.stamp, audit.log_row@sha256:<hex>" → the qualified functions a @reviewed annotation vouches
 * for, each by name or pinned to a definition (policy/reviewed-entries.ts).
 */
export function parseReviewed(id: string, spec: string, file = 'policy'): string[] {
  const out: string[] = [];
  for (const item of spec.split(',')) {
    const name = item.trim();
    if (parseReviewedEntry(name).kind === 'malformed') {
      throw invalid(
        `${file}: policy "${id}" has a bad @reviewed entry "${name}"`,
        'expected schema-qualified function names, comma-separated, each optionally pinned to a definition: @reviewed("public.stamp_row, audit.log_row@sha256:<64 hex digits>")',
      );
    }
    out.push(name);
  }
  return out;
}

/** "ssn:redact, phone:last4" → [{column: "ssn", strategy: "redact"}, ...]. */
export function parseMask(id: string, spec: string, file = 'policy'): Array<{ column: string; strategy: MaskStrategy }> {
  const columns: Array<{ column: string; strategy: MaskStrategy }> = [];
  for (const item of spec.split(',')) {
    const [column, strategy, extra] = item.split(':').map((s) => s.trim());
    if (column === undefined || column === '' || strategy === undefined || !STRATEGIES.has(strategy) || extra !== undefined) {
      throw invalid(`${file}: policy "${id}" has a bad @mask entry "${item.trim()}"`, `expected column:strategy with strategy ${MASK_STRATEGIES.join('|')}, comma-separated`);
    }
    columns.push({ column, strategy: strategy as MaskStrategy });
  }
  return columns;
}

/**
 * "notes:ssn,email,phone; *:ssn" → [{column: "notes", detectors: [...]}, {column: "*", ...}]:
 * columns separated by ";", each a column name (or "*" for every column) and its detectors.
 */
export function parseDetect(id: string, spec: string, file = 'policy'): Array<{ column: string; detectors: DetectorName[] }> {
  const out: Array<{ column: string; detectors: DetectorName[] }> = [];
  for (const item of spec.split(';')) {
    const colon = item.indexOf(':');
    const column = (colon < 0 ? item : item.slice(0, colon)).trim();
    const detectors = colon < 0 ? [] : item.slice(colon + 1).split(',').map((d) => d.trim());
    if (column === '' || column.includes(',') || detectors.length === 0 || detectors.some((d) => !DETECTORS.has(d))) {
      throw invalid(
        `${file}: policy "${id}" has a bad @detect entry "${item.trim()}"`,
        `expected column:detector,detector with detectors ${DETECTOR_NAMES.join('|')}, columns separated by ";" ("*" for every column)`,
      );
    }
    out.push({ column, detectors: detectors as DetectorName[] });
  }
  return out;
}

function describe(errors: readonly DetailedError[]): string {
  return errors.map((e) => (e.help === null ? e.message : `${e.message} (${e.help})`)).join('\n');
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function invalid(message: string, detail?: string): GatehouseError {
  return new GatehouseError('CONFIG_INVALID', message, detail === undefined ? {} : { detail });
}

// `gatehouse audit explain`: finds a decision's statement record in the audit log (files or the
// audit table), checks out the policy
// commit it names, loads the engine it names at that commit, evaluates the recorded input again and
// says whether the decision, its deciding policies and its masks match what was recorded.

import { join, resolve } from 'node:path';
import { changedParts, summarizeVerdict } from '../policy/diff/compare.ts';
import { DiffSourceError, openRepository } from '../policy/diff/diff.ts';
import { evaluateInput, loadCommitEngine } from '../policy/diff/evaluate.ts';
import type { VerdictSummary } from '../policy/diff/types.ts';
import { firstLine } from '../policy/repo/git-repo.ts';
import { materializeCommit } from '../policy/repo/materialize.ts';
import { resolveRef } from '../policy/repo/resolve-ref.ts';
import { locatePolicies } from '../policy/policy-locations.ts';
import type { EngineKind } from '../policy/types.ts';
import type { AuditRecordSource } from './record-source.ts';
import type { AuditRecord } from './types.ts';

export type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

/** Why a decision cannot be reproduced: not found, not made by a policy commit, or no input kept. */
export class ExplainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainError';
  }
}

export interface ExplainOptions {
  decisionId: string;
  source: AuditRecordSource;
  /** The policy repository (local directory or git URL). */
  repo: string;
  policyPaths: Record<EngineKind, string>;
  cacheDir: string;
  opaPath?: string;
  onProgress?: (line: string) => void;
}

export interface Explanation {
  /** `at`: where the record is (file:line, or table[instance]:seq). */
  record: { at: string; time: string; subject: string | null; statement: string; engine: EngineKind; revision: string };
  recorded: VerdictSummary;
  evaluated: VerdictSummary;
  /** What differs between the recorded and the re-evaluated decision; [] when they match. */
  mismatches: Array<'action' | 'policies' | 'masks'>;
  /** Set when the record says less than the policy decided for a reason the record explains. */
  note: string | null;
  /** Where each deciding policy (recorded or re-evaluated) is written at that commit: file:line, [] when nowhere. */
  locations: Record<string, string[]>;
}

/** The first statement record with this decision id (a held statement's later records repeat it). */
export async function findDecision(source: AuditRecordSource, decisionId: string): Promise<{ record: StatementRecord; at: string } | null> {
  for await (const { text, at } of source.lines({ types: ['statement'], since: null, until: null, decisionId })) {
    let record: AuditRecord;
    try {
      record = JSON.parse(text) as AuditRecord;
    } catch {
      continue; // a torn line: audit verify reports it
    }
    if (record.type === 'statement' && record.decision_id === decisionId) return { record, at };
  }
  return null;
}

/**
 * A mask record lists the masks the statement applied (enforce/mask-applied.ts), a subset of the
 * policy's. The evaluated masks the record leaves out (table.column), when the difference is only
 * that: every recorded mask evaluated with the same strategy, and none left out is of a column the
 * recorded input says the statement used (`columns`, `*` for all). Null when it is more than that.
 */
export function masksNotApplied(recorded: VerdictSummary, evaluated: VerdictSummary, columns: Record<string, string[]>): string[] | null {
  const key = (m: { table: string; column: string }): string => `${m.table}.${m.column}`;
  const evaluatedBy = new Map(evaluated.masks.map((m) => [key(m), m.strategy]));
  const recordedKeys = new Set(recorded.masks.map(key));
  if (recorded.masks.some((m) => evaluatedBy.get(key(m)) !== m.strategy)) return null;
  const left = evaluated.masks.filter((m) => !recordedKeys.has(key(m)));
  const used = (m: { table: string; column: string }): boolean => (columns[m.table] ?? []).some((c) => c === m.column || c === '*');
  if (left.some(used)) return null;
  return left.map(key);
}

const COMMIT = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export async function explainDecision(opts: ExplainOptions): Promise<Explanation> {
  const progress = opts.onProgress ?? (() => {});
  const found = await findDecision(opts.source, opts.decisionId);
  if (found === null) throw new ExplainError(`no statement record with decision_id ${opts.decisionId} in ${opts.source.name}`);
  const { record } = found;
  if (record.engine === null || record.revision === null) {
    throw new ExplainError(`decision ${opts.decisionId} was made by Gatehouse itself, not by a policy (${record.reason})`);
  }
  if (!COMMIT.test(record.revision)) {
    throw new ExplainError(`decision ${opts.decisionId} names revision ${record.revision}: policies loaded from a directory, not a commit, so there is nothing to check out`);
  }
  if (record.input === null) throw new ExplainError(`decision ${opts.decisionId} has no recorded input (the statement could not be parsed)`);

  const cacheDir = resolve(opts.cacheDir);
  const repo = await openRepository(opts.repo, join(cacheDir, 'policy-diff'), progress);
  let commit: string;
  try {
    commit = await resolveRef(repo, record.revision);
  } catch (e) {
    throw new DiffSourceError(`commit ${record.revision} is not in ${opts.repo}: ${firstLine(e)}`);
  }
  progress(`checking out ${commit.slice(0, 12)} and loading its ${record.engine} policies`);
  const { dir } = await materializeCommit(repo, commit);
  const engine = await loadCommitEngine({
    engine: record.engine,
    commitDir: dir,
    commit,
    policyPath: opts.policyPaths[record.engine],
    buildDir: join(cacheDir, 'policy-build'),
    ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
  });
  const evaluated = summarizeVerdict(evaluateInput(engine, record.input));
  const ids = [...new Set([...record.policies, ...evaluated.policies])];
  const locations = locatePolicies(record.engine, join(dir, opts.policyPaths[record.engine]), ids, dir);
  const recorded = summarizeVerdict({ action: record.decision, policies: record.policies, masks: record.masks, reason: record.reason } as Parameters<typeof summarizeVerdict>[0]);
  let mismatches = changedParts(recorded, evaluated);
  let note: string | null = null;
  // A statement the policy masks that reads none of the masked columns is recorded as allow with no
  // masks (the masks that applied); the policy's decision is the same.
  if (evaluated.action === 'mask' && recorded.action === 'allow' && recorded.masks.length === 0 && !mismatches.includes('policies')) {
    mismatches = [];
    note = 'the policy decided mask; the statement read none of the masked columns, so it was recorded as allow with no masks';
  } else if (mismatches.length === 1 && mismatches[0] === 'masks' && evaluated.action === 'mask' && recorded.action === 'mask') {
    const unread = masksNotApplied(recorded, evaluated, record.input.statement?.columns ?? {});
    if (unread !== null) {
      mismatches = [];
      note = `the statement read ${unread.length === 1 ? 'a masked column' : 'masked columns'} only in part; the record lists the masks that applied, not ${unread.join(', ')}`;
    }
  }
  return {
    record: {
      at: found.at,
      time: record.time,
      subject: record.identity?.subject ?? null,
      statement: record.statement,
      engine: record.engine,
      revision: record.revision,
    },
    recorded,
    evaluated,
    mismatches,
    note,
    locations,
  };
}

export function formatExplanation(e: Explanation): string {
  const verdict = (v: VerdictSummary): string[] => [
    `  decision: ${v.action}`,
    `  policies: ${v.policies.length === 0 ? '(none)' : v.policies.join(', ')}`,
    `  masks:    ${v.masks.length === 0 ? '(none)' : v.masks.map((m) => `${m.table}.${m.column} ${m.strategy}`).join(', ')}`,
    `  reason:   ${v.reason}`,
  ];
  return [
    `record:    ${e.record.at} (${e.record.time})`,
    `identity:  ${e.record.subject ?? '(none)'}`,
    `statement: ${e.record.statement}`,
    `policies:  ${e.record.engine} at commit ${e.record.revision}`,
    '',
    'recorded:',
    ...verdict(e.recorded),
    're-evaluated:',
    ...verdict(e.evaluated),
    ...(Object.keys(e.locations).length === 0 ? [] : ['', 'where the policies are written:', ...Object.entries(e.locations).map(([id, at]) => `  ${id}: ${at.length === 0 ? '(not found in the policy files)' : at.join(', ')}`)]),
    '',
    e.mismatches.length === 0 ? `MATCH${e.note === null ? '' : ` (${e.note})`}` : `MISMATCH: ${e.mismatches.join(', ')} differ`,
    '',
  ].join('\n');
}

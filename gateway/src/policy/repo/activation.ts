// Gated activation of one commit: check it out, compile its policies (stamped with the commit
// hash), run its policy tests; only a commit that passes all three may become the active one.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { warmUpEngine, warmUpInputs } from '../../enforce/engine-warm-up.ts';
import { loadSqlParser } from '../../sql/parser.ts';
import { caseInputs, checkEvaluationBudget, checkRecordedInputs, recordedInputs, type BudgetCheck } from '../budget-gate.ts';
import { loadPolicyEngine } from '../load.ts';
import { runPolicyTests } from '../testing/run.ts';
import type { PolicyTestReport } from '../testing/types.ts';
import { warningText } from '../review-warnings.ts';
import type { EngineKind, PolicyEngine } from '../types.ts';
import { firstLine, type GitRepo } from './git-repo.ts';
import { materializeCommit } from './materialize.ts';

export interface CandidateOptions {
  engine: EngineKind;
  /** The engine's policy directory, relative to the repository root. */
  policyPath: string;
  /** The test cases directory, relative to the repository root; null runs no cases. */
  testsPath: string | null;
  /** Compiled artifacts (Rego WASM by content hash) and the test runner's scratch space. */
  buildDir: string;
  opaPath?: string;
  onProgress?: (line: string) => void;
  /** Evaluate the test inputs within this budget, in the evaluation pool, before anything else runs them. */
  budget?: BudgetCheck;
}

export type CandidateStage = 'checkout' | 'compile' | 'budget' | 'test';

export type Candidate =
  | { ok: true; commit: string; dir: string; engine: PolicyEngine; /** Review warnings of its policies ("file:line: message"), logged at activation. */ warnings: string[] }
  | { ok: false; commit: string; stage: CandidateStage; reason: string };

/** Checks out, compiles and tests commit; never throws for a problem with the commit itself. */
export async function prepareCommit(repo: GitRepo, commit: string, opts: CandidateOptions): Promise<Candidate> {
  const candidate = await prepare(repo, commit, opts);
  // Reasons name files relative to the repository root, not the checkout directory.
  if (!candidate.ok) candidate.reason = candidate.reason.replaceAll(`${join(repo.commitsDir, commit)}/`, '');
  return candidate;
}

async function prepare(repo: GitRepo, commit: string, opts: CandidateOptions): Promise<Candidate> {
  let dir: string;
  try {
    dir = (await materializeCommit(repo, commit)).dir;
  } catch (e) {
    return { ok: false, commit, stage: 'checkout', reason: `checkout failed: ${firstLine(e)}` };
  }
  const policyDir = join(dir, opts.policyPath);
  if (!existsSync(policyDir)) {
    return { ok: false, commit, stage: 'compile', reason: `compile failed: the commit has no ${opts.policyPath}/ directory` };
  }

  let engine: PolicyEngine;
  try {
    // The warm-up below analyses SQL; loading the parser is idempotent and cheap once done.
    await loadSqlParser();
    engine = await loadPolicyEngine({
      engine: opts.engine,
      directory: policyDir,
      buildDir: opts.buildDir,
      revision: commit,
      ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
    });
  } catch (e) {
    return { ok: false, commit, stage: 'compile', reason: `compile failed: ${compileMessage(e)}` };
  }

  const casesDir = opts.testsPath === null ? null : join(dir, opts.testsPath);
  if (opts.budget !== undefined) {
    // A policy too slow for its own test inputs (one that loops) is refused here, in the worker
    // pool, before the warm-up and the policy tests evaluate it on this thread.
    let inputs: Array<{ name: string; input: Parameters<PolicyEngine['evaluate']>[0] }>;
    try {
      const cases = casesDir !== null && existsSync(casesDir) ? await caseInputs(casesDir, dir) : [];
      inputs = [...warmUpInputs().map((input) => ({ name: `the warm-up statement "${input.statement.text}"`, input })), ...cases];
    } catch (e) {
      return { ok: false, commit, stage: 'budget', reason: `the test inputs could not be read: ${firstLine(e)}` };
    }
    const gate = await checkEvaluationBudget(opts.budget, engine, inputs);
    if (!gate.ok) return { ok: false, commit, stage: 'budget', reason: gate.reason };
    const sampled = await checkRecordedInputs(opts.budget, engine, await recordedInputs(opts.budget));
    if (!sampled.ok) return { ok: false, commit, stage: 'budget', reason: sampled.reason };
  }
  try {
    warmUpEngine(engine);
  } catch (e) {
    return { ok: false, commit, stage: 'compile', reason: `compile failed: ${compileMessage(e)}` };
  }
  let report: PolicyTestReport;
  try {
    report = await runPolicyTests({
      root: dir,
      regoDir: opts.engine === 'rego' ? policyDir : null,
      cedarDir: opts.engine === 'cedar' ? policyDir : null,
      // A commit without the cases directory has no cases to run (its engine's own tests still do).
      casesDir: casesDir !== null && existsSync(casesDir) ? casesDir : null,
      engines: [opts.engine],
      buildDir: opts.buildDir,
      revision: commit,
      ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
      ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
    });
  } catch (e) {
    return { ok: false, commit, stage: 'test', reason: `policy tests could not run: ${firstLine(e)}` };
  }
  if (!report.ok) return { ok: false, commit, stage: 'test', reason: `policy tests failed: ${summarizeFailures(report)}` };
  return { ok: true, commit, dir, engine, warnings: (report.warnings ?? []).map(warningText) };
}

/** The compiler's own words, which name the file and line (opa build, Cedar's parser and validator). */
function compileMessage(e: unknown): string {
  const detail = typeof (e as { detail?: unknown }).detail === 'string' ? (e as { detail: string }).detail : '';
  // Keep the error lines; drop the source excerpts under them (indented) and the caret lines.
  const lines = detail
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s/.test(l))
    .slice(0, MAX_COMPILE_LINES);
  const head = firstLine(e);
  return lines.length === 0 ? head : `${head}: ${lines.join('; ')}`;
}

const MAX_COMPILE_LINES = 5;

const MAX_LISTED_FAILURES = 3;

/** "suite › case: message; …; and N more" */
export function summarizeFailures(report: PolicyTestReport): string {
  const failures = report.suites.flatMap((s) =>
    s.results.filter((r) => r.status !== 'passed').map((r) => `${s.name} › ${r.name}${r.message ? `: ${firstLine(r.message)}` : ` (${r.status})`}`),
  );
  if (failures.length === 0) return 'nothing was tested';
  const listed = failures.slice(0, MAX_LISTED_FAILURES).join('; ');
  const more = failures.length - MAX_LISTED_FAILURES;
  return more > 0 ? `${listed}; and ${more} more` : listed;
}

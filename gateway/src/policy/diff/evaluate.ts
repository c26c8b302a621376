// Loads one engine's policies at one materialised commit (stamped with the commit hash, Rego compiled
// into the shared build cache) and evaluates inputs without a time budget that could turn a slow
// evaluation into a spurious change.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isGatehouseError } from '../../errors.ts';
import { engineErrorVerdict } from '../combine.ts';
import { evaluateWithBudget } from '../evaluate.ts';
import { loadPolicyEngine } from '../load.ts';
import type { EngineKind, EngineVerdict, PolicyEngine, PolicyInput } from '../types.ts';

/** A commit's policies that cannot be loaded (missing directory, compile or validation error). */
export class PolicyLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyLoadError';
  }
}

export interface CommitEngineOptions {
  engine: EngineKind;
  /** The materialised commit. */
  commitDir: string;
  commit: string;
  /** The engine's directory, relative to the repository root. */
  policyPath: string;
  buildDir: string;
  opaPath?: string;
}

export async function loadCommitEngine(opts: CommitEngineOptions): Promise<PolicyEngine> {
  const directory = join(opts.commitDir, opts.policyPath);
  const at = `${opts.policyPath}/ at ${opts.commit.slice(0, 12)}`;
  if (!existsSync(directory)) throw new PolicyLoadError(`${at}: no such directory`);
  try {
    return await loadPolicyEngine({
      engine: opts.engine,
      directory,
      buildDir: opts.buildDir,
      revision: opts.commit,
      ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
    });
  } catch (e) {
    const text = isGatehouseError(e) ? [e.message, e.detail].filter((s) => s !== undefined && s !== '').join(': ') : e instanceof Error ? e.message : String(e);
    throw new PolicyLoadError(`${opts.engine} policies in ${at} do not load: ${text.replaceAll(`${opts.commitDir}/`, '')}`);
  }
}

/** A slow policy is a performance problem, not a different decision: the budget only stops a runaway. */
const DIFF_EVAL_BUDGET_MS = 60_000;

export function evaluateInput(engine: PolicyEngine, input: PolicyInput): EngineVerdict {
  try {
    return evaluateWithBudget(engine, input, DIFF_EVAL_BUDGET_MS).verdict;
  } catch (e) {
    return engineErrorVerdict(e instanceof Error ? e.message : String(e));
  }
}

// Starts what decides at start-up: the evaluation worker pool, and the engine source (a policy
// directory loaded and timed once, or the git policy source following a branch), per config.policies.
import { join } from 'node:path';
import { recentRecordedInputs } from '../audit/recorded-inputs.ts';
import type { AuditRecord } from '../audit/types.ts';
import type { GatehouseConfig } from '../config/types.ts';
import type { EngineSource } from '../enforce/decision-context.ts';
import { warmUpEngine, warmUpInputs } from '../enforce/engine-warm-up.ts';
import { GatehouseError } from '../errors.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { checkEvaluationBudget, checkRecordedInputs, recordedInputs, type BudgetCheck } from './budget-gate.ts';
import { EvalAdmission } from './eval-admission.ts';
import { EVAL_WORKERS, EvalPool } from './eval-pool.ts';
import { bundleEvalWorker, type EvalWorkerBundle } from './eval-worker-bundle.ts';
import type { PolicyEvaluator } from './evaluate.ts';
import { loadPolicyEngine } from './load.ts';
import { readPolicyFiles } from './policy-files.ts';
import { reviewWarnings, warningText } from './review-warnings.ts';
import type { GitPolicySource } from './repo/git-policy-source.ts';
import type { PolicyEngine } from './types.ts';

/** An engine source that always answers with one engine (a policy directory loaded at start). */
export class FixedEngine implements EngineSource {
  constructor(private readonly engine: PolicyEngine) {}
  current(): PolicyEngine {
    return this.engine;
  }
}

export interface PolicyStartOptions {
  /** Use this engine source instead of loading config.policies. */
  engines?: EngineSource;
  /** Where policy evaluations run (default: a pool of worker threads, policy/eval-pool.ts). */
  evaluator?: PolicyEvaluator;
}

export interface StartedPolicies {
  engines: EngineSource;
  /** With policies.git: the source following it (stop it at close). */
  gitSource: GitPolicySource | null;
  /** The worker pool, when no evaluator was given (close it at close). */
  pool: EvalPool | null;
  /** What sessions evaluate with: the pool behind per-identity admission, or the evaluator given. */
  sessionEvaluator: PolicyEvaluator;
}

/**
 * Starts the pool and the engine source; a policy too slow for its budget, or a git source that
 * cannot start, stops the start (what started is stopped before the error is thrown).
 */
export async function startPolicies(
  config: GatehouseConfig,
  options: PolicyStartOptions,
  deps: { audit: (record: AuditRecord) => void; metrics: GatewayMetrics; info: (message: string) => void },
): Promise<StartedPolicies> {
  const { info, metrics } = deps;
  let gitSource: GitPolicySource | null = null;
  let engines: EngineSource;
  // Policy evaluations run in worker threads with a hard CPU-time deadline (policy/eval-pool.ts).
  const pool = options.evaluator ? null : new EvalPool({
    workers: EVAL_WORKERS,
    ...(await evalWorkerBundle(info)),
    warmUp: warmUpInputs,
    onInfo: info,
    // Evaluations in workers bypass the timed engine wrapper (metrics/observed-engines.ts).
    onEvaluated: (engine, micros) => metrics.evaluationSeconds.labels({ engine }).observe(micros / 1e6),
  });
  const evaluator: PolicyEvaluator = options.evaluator ?? pool!;
  // Sessions' evaluations in the worker pool go through admission per identity (activation checks do
  // not): one identity never holds every worker, and a shape it just ran over budget is refused for a
  // cool-down. An evaluator given by the caller (a test's) is used as it is.
  const sessionEvaluator: PolicyEvaluator =
    pool === null ? evaluator : new EvalAdmission(pool, { perIdentity: EVAL_WORKERS - 1, cooldownMs: config.policies.evalCooldownMs });
  // The policy serving now, for gated activation's recorded inputs (null until one serves).
  let serving: (() => PolicyEngine) | null = null;
  const servingNow = (): PolicyEngine | null => {
    try {
      return serving?.() ?? null;
    } catch {
      return null; // no commit active yet
    }
  };
  const budget: BudgetCheck = { evaluator, budgetMs: config.policies.evalTimeoutMs, current: servingNow, note: info };
  if (config.policies.activationSample > 0 && config.audit.sink === 'file') {
    const file = config.audit.file;
    budget.recorded = () =>
      recentRecordedInputs(file, config.policies.activationSample).catch((e: unknown) => {
        info(`policy: WARNING: the recorded statements of ${file} could not be read for the activation check (${e instanceof Error ? e.message : String(e)}); new policies are timed on their test inputs only`);
        return [];
      });
  }
  try {
    if (options.engines) {
      engines = options.engines;
    } else if (config.policies.git !== null) {
      // Loaded only with policies.git: simple-git, activation and the test runner are not otherwise needed.
      const { GitPolicySource } = await import('./repo/git-policy-source.ts');
      gitSource = new GitPolicySource({
        engine: config.policies.engine,
        git: config.policies.git,
        onInfo: info,
        audit: deps.audit,
        budget,
      });
      const source = gitSource;
      serving = () => source.current();
      await gitSource.start();
      engines = gitSource;
    } else {
      engines = new FixedEngine(
        await loadPolicyEngine({
          engine: config.policies.engine,
          directory: config.policies.directory,
          buildDir: join(config.baseDir, '.gatehouse', 'policy-build'),
        }),
      );
      const inputs = warmUpInputs().map((input) => ({ name: `the warm-up statement "${input.statement.text}"`, input }));
      const tested = await checkEvaluationBudget(budget, engines.current(), inputs);
      const gate = tested.ok ? await checkRecordedInputs(budget, engines.current(), await recordedInputs(budget)) : tested;
      if (!gate.ok) throw new GatehouseError('CONFIG_INVALID', `the policies in ${config.policies.directory} are too slow: ${gate.reason}`);
      warmUpEngine(engines.current());
      const language = config.policies.engine;
      for (const w of reviewWarnings(await readPolicyFiles(config.policies.directory, language), language)) info(`policy: WARNING: ${warningText(w)}`);
    }
  } catch (e) {
    await gitSource?.stop();
    await pool?.close();
    throw e;
  }
  return { engines, gitSource, pool, sessionEvaluator };
}

/** The evaluation workers' code compiled once (no tsx in each worker); without it, they run it through tsx. */
async function evalWorkerBundle(info: (message: string) => void): Promise<{ bundle?: EvalWorkerBundle }> {
  try {
    return { bundle: await bundleEvalWorker() };
  } catch (e) {
    info(`policy: the evaluation workers run their TypeScript through tsx (compiling them once failed: ${e instanceof Error ? e.message : String(e)})`);
    return {};
  }
}

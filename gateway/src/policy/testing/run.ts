// Runs a policy repository's tests: `opa test` on the Rego directory, compilation and Cedar validation,
// then every data-driven case against each engine, and a check that both engines agree. Every problem,
// including policies that do not compile, becomes a result in the report; nothing here throws for it.

import { stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { isGatehouseError } from '../../errors.ts';
import { loadSqlParser } from '../../sql/parser.ts';
import { engineErrorVerdict } from '../combine.ts';
import { evaluateWithBudget } from '../evaluate.ts';
import { directoryRevision, loadPolicyEngine } from '../load.ts';
import type { EngineKind, EngineVerdict, PolicyEngine, PolicyInput } from '../types.ts';
import { CaseError, evaluationFor } from './case-input.ts';
import type { CaseEvaluation } from './case-input.ts';
import { loadCaseDirectory } from './cases.ts';
import { describeDisagreement, describeMismatch, disagreements, expectationMismatches } from './expect.ts';
import { runOpaTest } from './opa-test.ts';
import type { PolicyTestCase, PolicyTestReport, PolicyTestResult, PolicyTestSuite } from './types.ts';
import { readPolicyFiles, type PolicyLanguage } from '../policy-files.ts';
import { reviewWarnings, type PolicyWarning } from '../review-warnings.ts';

export type { PolicyTestReport, PolicyTestResult, PolicyTestSuite } from './types.ts';

export interface PolicyTestOptions {
  /** The policy repository; the default directories are under it, and result files are relative to it. */
  root: string;
  /** Rego policies (with *_test.rego); default <root>/policies/rego when it exists; null skips Rego. Relative to root. */
  regoDir?: string | null;
  /** Cedar policies; default <root>/policies/cedar when it exists; null skips Cedar. Relative to root. */
  cedarDir?: string | null;
  /** Case files (*.yaml); default <root>/policy-tests when it exists; null skips the cases. Relative to root. */
  casesDir?: string | null;
  /** Engines to test; default every engine whose directory exists. Asking for one without a directory fails. */
  engines?: EngineKind[];
  /** Where compiled Rego modules are cached. */
  buildDir: string;
  opaPath?: string;
  /** Stamped on the engines (e.g. the git commit); default "dir:<sha256>" of each directory. */
  revision?: string;
  /** A .cedarschema file; default the schema shipped with Gatehouse. */
  cedarSchemaPath?: string;
  /** One line per step, for a human watching (stderr in the CLI). */
  onProgress?: (line: string) => void;
}

/** Evaluations are not timed out here: a slow policy is a performance problem, not a wrong verdict. */
const TEST_EVAL_BUDGET_MS = 60_000;

export async function runPolicyTests(opts: PolicyTestOptions): Promise<PolicyTestReport> {
  const root = resolve(opts.root);
  const progress = opts.onProgress ?? (() => {});
  const suites: PolicyTestSuite[] = [];
  const rel = (p: string): string => relative(root, p).split(sep).join('/') || '.';

  const dirs = {
    rego: await resolveDir(root, opts.regoDir, 'policies/rego'),
    cedar: await resolveDir(root, opts.cedarDir, 'policies/cedar'),
    cases: await resolveDir(root, opts.casesDir, 'policy-tests'),
  };
  const wanted: EngineKind[] = opts.engines ?? (['rego', 'cedar'] as const).filter((k) => dirs[k].path !== null);
  const engines: Partial<Record<EngineKind, PolicyEngine | null>> = {};

  // Setup problems: an engine asked for without its directory, a directory given that does not exist.
  const setup: PolicyTestResult[] = [];
  for (const kind of wanted) {
    const d = dirs[kind];
    if (d.path === null) setup.push(setupError(`${kind} policies`, `no ${kind === 'rego' ? 'Rego' : 'Cedar'} policy directory: ${d.missing ?? 'it was skipped'}`));
  }
  if (dirs.cases.explicit && dirs.cases.missing !== null) setup.push(setupError('case files', `no case directory: ${dirs.cases.missing}`));
  if (wanted.length === 0) setup.push(setupError('policies', `no policies found: neither ${rel(resolve(root, 'policies/rego'))} nor ${rel(resolve(root, 'policies/cedar'))} exists`));
  if (setup.length > 0) suites.push({ name: 'setup', results: setup });

  // Engines: opa test and compilation for Rego, strict validation for Cedar. Run side by side.
  const tasks: Array<Promise<void>> = [];
  const regoDir = wanted.includes('rego') ? dirs.rego.path : null;
  if (regoDir !== null) {
    const testSuite: PolicyTestSuite = { name: `opa test ${rel(regoDir)}`, results: [] };
    const buildSuite: PolicyTestSuite = { name: `opa build ${rel(regoDir)}`, results: [] };
    suites.push(testSuite, buildSuite);
    progress(`opa test ${rel(regoDir)}`);
    tasks.push(
      runOpaTest(regoDir, { root, ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }) }).then((r) => {
        testSuite.results = r;
      }),
    );
    progress(`compiling ${rel(regoDir)} to WebAssembly (opa build)`);
    tasks.push(
      compileRego(regoDir, opts).then(({ result, engine }) => {
        buildSuite.results = [result];
        engines.rego = engine;
      }),
    );
  }
  const cedarDir = wanted.includes('cedar') ? dirs.cedar.path : null;
  if (cedarDir !== null) {
    const suite: PolicyTestSuite = { name: `cedar validate ${rel(cedarDir)}`, results: [] };
    suites.push(suite);
    progress(`validating ${rel(cedarDir)} against the Cedar schema`);
    tasks.push(
      (async () => {
        const revision = opts.revision ?? (await directoryRevision('cedar', cedarDir));
        // Imported here: Cedar's WebAssembly is loaded only where Cedar policies are validated.
        const { validateCedarDirectory } = await import('./cedar-validate.ts');
        const v = await validateCedarDirectory(cedarDir, {
          revision,
          relativeDir: rel(cedarDir),
          ...(opts.cedarSchemaPath === undefined ? {} : { schemaPath: opts.cedarSchemaPath }),
        });
        suite.results = v.results;
        engines.cedar = v.engine;
      })(),
    );
  }
  await Promise.all(tasks);

  // Cases.
  if (dirs.cases.path !== null) {
    suites.push(...(await runCases(dirs.cases.path, root, wanted, engines, progress)));
  }

  const ok = suites.length > 0 && suites.every((s) => s.results.every((r) => r.status === 'passed'));
  const warnings = await policyWarnings([
    ...(regoDir === null ? [] : [{ dir: regoDir, language: 'rego' as const }]),
    ...(cedarDir === null ? [] : [{ dir: cedarDir, language: 'cedar' as const }]),
  ], rel);
  return { ok, suites, root, ...(warnings.length > 0 ? { warnings } : {}) };
}

async function runCases(
  casesDir: string,
  root: string,
  wanted: readonly EngineKind[],
  engines: Partial<Record<EngineKind, PolicyEngine | null>>,
  progress: (line: string) => void,
): Promise<PolicyTestSuite[]> {
  const started = Date.now();
  const files = await loadCaseDirectory(casesDir, root);
  const cases = files.flatMap((f) => f.cases);
  const fileSuite: PolicyTestSuite = {
    name: 'case files',
    results: files.flatMap((f): PolicyTestResult[] =>
      f.problems.length === 0
        ? [{ name: f.file, file: f.file, line: 1, status: 'passed', durationMs: 0 }]
        : f.problems.map((p) => ({
            name: p.caseName === undefined ? f.file : `${f.file}: ${p.caseName}`,
            file: f.file,
            ...(p.line === undefined ? {} : { line: p.line }),
            status: 'error' as const,
            message: p.message,
            durationMs: 0,
          })),
    ),
  };
  if (files.length === 0) {
    fileSuite.results.push(setupError('case files', `no *.yaml case files in ${relative(root, casesDir) || '.'}`));
  }
  progress(`loaded ${cases.length} cases from ${files.length} files in ${Date.now() - started} ms`);
  const suites: PolicyTestSuite[] = [fileSuite];

  await loadSqlParser();
  const evaluations = new Map<PolicyTestCase, CaseEvaluation | Error>();
  for (const c of cases) {
    try {
      evaluations.set(c, evaluationFor(c));
    } catch (e) {
      evaluations.set(c, e instanceof Error ? e : new Error(String(e)));
    }
  }

  const verdicts = new Map<PolicyTestCase, Partial<Record<EngineKind, EngineVerdict>>>();
  for (const kind of wanted) {
    const suite: PolicyTestSuite = { name: `cases ${kind}`, results: [] };
    suites.push(suite);
    const engine = engines[kind];
    const mine = cases.filter((c) => c.engines.includes(kind));
    if (engine === undefined || engine === null) {
      if (mine.length > 0) suite.results.push(setupError(`${mine.length} cases`, `not run: the ${kind} policies did not load (see the suites above)`));
      continue;
    }
    progress(`running ${mine.length} cases against ${kind}`);
    for (const c of mine) {
      const t0 = performance.now();
      const evaluation = evaluations.get(c) as CaseEvaluation | Error;
      const where = { file: c.file, line: c.line };
      if (evaluation instanceof Error) {
        suite.results.push({ name: c.name, ...where, status: 'error', message: caseErrorText(evaluation), durationMs: 0 });
        continue;
      }
      const verdict = evaluation.type === 'gateway' ? evaluation.verdict : evaluate(engine, evaluation.input);
      const durationMs = performance.now() - t0;
      (verdicts.get(c) ?? verdicts.set(c, {}).get(c)!)[kind] = verdict;
      const mismatches = expectationMismatches(c.expect, verdict);
      suite.results.push(
        mismatches.length === 0
          ? { name: c.name, ...where, status: 'passed', durationMs }
          : { name: c.name, ...where, status: 'failed', message: describeMismatch(c.expect, verdict, mismatches), durationMs },
      );
    }
  }

  // Both engines on the same case must reach the same outcome, whatever the expectation checks.
  if (wanted.includes('rego') && wanted.includes('cedar')) {
    const suite: PolicyTestSuite = { name: 'engines agree', results: [] };
    for (const c of cases) {
      const v = verdicts.get(c);
      if (v?.rego === undefined || v.cedar === undefined) continue;
      const differences = disagreements(v.rego, v.cedar);
      suite.results.push(
        differences.length === 0
          ? { name: c.name, file: c.file, line: c.line, status: 'passed', durationMs: 0 }
          : { name: c.name, file: c.file, line: c.line, status: 'failed', message: describeDisagreement({ rego: v.rego, cedar: v.cedar }, differences), durationMs: 0 },
      );
    }
    if (suite.results.length > 0) suites.push(suite);
  }
  return suites;
}

function evaluate(engine: PolicyEngine, input: PolicyInput): EngineVerdict {
  try {
    return evaluateWithBudget(engine, input, TEST_EVAL_BUDGET_MS).verdict;
  } catch (e) {
    return engineErrorVerdict(e instanceof Error ? e.message : String(e));
  }
}

async function compileRego(dir: string, opts: PolicyTestOptions): Promise<{ result: PolicyTestResult; engine: PolicyEngine | null }> {
  const started = Date.now();
  try {
    const engine = await loadPolicyEngine({
      engine: 'rego',
      directory: dir,
      buildDir: opts.buildDir,
      ...(opts.revision === undefined ? {} : { revision: opts.revision }),
      ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
    });
    return { result: { name: 'compile to WebAssembly', status: 'passed', durationMs: Date.now() - started }, engine };
  } catch (e) {
    // `opa build` prints its errors on standard output, which the engine's error does not carry in its detail.
    const stdout = (e instanceof Error ? (e.cause as { stdout?: unknown } | undefined)?.stdout : undefined) ?? '';
    const output = typeof stdout === 'string' && stdout.trim() !== '' ? stdout.trim() : undefined;
    const message = isGatehouseError(e)
      ? [e.message, output ?? e.detail, e.hint === undefined ? undefined : `hint: ${e.hint}`].filter((s) => s !== undefined).join('\n')
      : e instanceof Error
        ? e.message
        : String(e);
    const match = /([^\s:]+\.rego):(\d+):/.exec(message);
    const where = match?.[1] !== undefined ? { file: relative(resolve(opts.root), resolve(match[1])).split(sep).join('/'), line: Number(match[2]) } : {};
    return { result: { name: 'compile to WebAssembly', ...where, status: 'failed', message, durationMs: Date.now() - started }, engine: null };
  }
}

interface ResolvedDir {
  /** The directory, or null when skipped or missing. */
  path: string | null;
  /** Why it is missing (also for a default that does not exist), or null when skipped on purpose or present. */
  missing: string | null;
  /** Given explicitly (not the default). */
  explicit: boolean;
}

/** An explicit directory must exist; a default one is used only when it exists. */
async function resolveDir(root: string, given: string | null | undefined, fallback: string): Promise<ResolvedDir> {
  if (given === null) return { path: null, missing: null, explicit: true };
  const path = resolve(root, given ?? fallback);
  if (await isDirectory(path)) return { path, missing: null, explicit: given !== undefined };
  return { path: null, missing: `${path} is not a directory`, explicit: given !== undefined };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function setupError(name: string, message: string): PolicyTestResult {
  return { name, status: 'error', message, durationMs: 0 };
}

function caseErrorText(e: Error): string {
  if (e instanceof CaseError) return e.message;
  if (isGatehouseError(e)) return `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`;
  return e.message;
}

/** The review warnings of each policy directory, with file paths relative to the report's root. */
async function policyWarnings(dirs: ReadonlyArray<{ dir: string; language: PolicyLanguage }>, rel: (path: string) => string): Promise<PolicyWarning[]> {
  const out: PolicyWarning[] = [];
  for (const { dir, language } of dirs) {
    const files = await readPolicyFiles(dir, language).catch(() => []);
    for (const w of reviewWarnings(files, language)) out.push({ ...w, file: rel(resolve(dir, w.file)) });
  }
  return out;
}

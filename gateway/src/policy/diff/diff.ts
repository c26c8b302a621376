// `gatehouse policy diff`'s engine: materialises two commits of a policy repository, loads each engine
// at each commit, evaluates every collected input under both, and reports the inputs whose decision
// (action, deciding policies or masks) changed.

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadSqlParser } from '../../sql/parser.ts';
import { loadCaseDirectory } from '../testing/cases.ts';
import { firstLine, gitIn, openLocalRepo, syncMirror, type GitRepo } from '../repo/git-repo.ts';
import { materializeCommit } from '../repo/materialize.ts';
import { commitInfo, resolveRef } from '../repo/resolve-ref.ts';
import type { EngineKind, PolicyEngine } from '../types.ts';
import { canonicalJson, InputCollector } from './inputs.ts';
import { changedParts, maskChanges, summarizeVerdict } from './compare.ts';
import { evaluateInput, loadCommitEngine } from './evaluate.ts';
import type { CommitSide, InputChange, PolicyDiffReport } from './types.ts';

export { PolicyLoadError } from './evaluate.ts';

/** The repository or a ref cannot be used as given: a mistake on the command line, not in the policies. */
export class DiffSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiffSourceError';
  }
}

export interface PolicyDiffOptions {
  /** A local repository (working tree or bare) or a git URL. */
  repo: string;
  base: string;
  head: string;
  /** Engines to compare; 'available': each one whose policy directory exists at both commits. */
  engines: EngineKind[] | 'available';
  /** Each engine's policy directory, relative to the repository root. */
  policyPaths: Record<EngineKind, string>;
  /** A case directory on disk used instead of each commit's; default: the cases of both commits. */
  casesDir?: string;
  /** The cases directory inside each commit. */
  casesPath: string;
  auditFiles: string[];
  /** Checkouts, mirrors and the Rego build cache. */
  cacheDir: string;
  opaPath?: string;
  onProgress?: (line: string) => void;
}

const ENGINES: readonly EngineKind[] = ['rego', 'cedar'];

export async function runPolicyDiff(opts: PolicyDiffOptions): Promise<PolicyDiffReport> {
  const progress = opts.onProgress ?? (() => {});
  const cacheDir = resolve(opts.cacheDir);
  const repo = await openRepository(opts.repo, join(cacheDir, 'policy-diff'), progress);

  const sides = await Promise.all(
    (['base', 'head'] as const).map(async (side) => {
      const ref = opts[side];
      let commit: string;
      try {
        commit = await resolveRef(repo, ref);
      } catch (e) {
        throw new DiffSourceError(`--${side} ${ref}: ${firstLine(e)} (repository ${opts.repo})`);
      }
      const { dir } = await materializeCommit(repo, commit);
      const info = await commitInfo(repo, commit);
      const described: CommitSide = { ref, commit, subject: info.subject };
      return { side, dir, described };
    }),
  );
  const [base, head] = sides as [(typeof sides)[number], (typeof sides)[number]];
  progress(`base ${base.described.commit.slice(0, 12)} "${base.described.subject}", head ${head.described.commit.slice(0, 12)} "${head.described.subject}"`);

  // Inputs: the cases (of both commits, or --cases), then the audit logs.
  await loadSqlParser();
  const collector = new InputCollector();
  if (opts.casesDir !== undefined) {
    const dir = resolve(opts.casesDir);
    collector.addCases(await loadCaseDirectory(dir, process.cwd()), 'cases-dir');
  } else {
    for (const s of [base, head]) {
      const dir = join(s.dir, opts.casesPath);
      if (existsSync(dir)) collector.addCases(await loadCaseDirectory(dir, s.dir), s.side);
    }
  }
  for (const file of opts.auditFiles) {
    try {
      await collector.addAuditFile(file);
    } catch (e) {
      throw new DiffSourceError(`--audit ${file}: ${firstLine(e)}`);
    }
  }
  const inputs = collector.inputs();
  progress(`${inputs.length} distinct inputs (${collector.cases} cases, ${collector.auditRecords} audited statements)`);

  // Engines.
  const warnings = [...collector.warnings];
  let engines: EngineKind[];
  if (opts.engines === 'available') {
    engines = [];
    for (const kind of ENGINES) {
      const at = [base, head].map((s) => existsSync(join(s.dir, opts.policyPaths[kind])));
      if (at[0] === true && at[1] === true) engines.push(kind);
      else if (at[0] === true || at[1] === true) {
        warnings.push(`${opts.policyPaths[kind]}/ exists only at ${at[0] === true ? 'base' : 'head'}: ${kind} not compared`);
      }
    }
    if (engines.length === 0) {
      throw new DiffSourceError(`neither ${opts.policyPaths.rego}/ nor ${opts.policyPaths.cedar}/ exists at both commits`);
    }
  } else {
    engines = opts.engines;
  }

  const buildDir = join(cacheDir, 'policy-build');
  const changes: InputChange[] = [];
  const merged = new Map<string, InputChange>();
  const changedByEngine: Partial<Record<EngineKind, number>> = {};
  for (const kind of engines) {
    progress(`loading ${kind} policies at both commits`);
    const load = (s: typeof base): Promise<PolicyEngine> =>
      loadCommitEngine({
        engine: kind,
        commitDir: s.dir,
        commit: s.described.commit,
        policyPath: opts.policyPaths[kind],
        buildDir,
        ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
      });
    const [baseEngine, headEngine] = await Promise.all([load(base), load(head)]);
    let changed = 0;
    for (const item of inputs) {
      if (!item.engines.includes(kind)) continue;
      const before = summarizeVerdict(evaluateInput(baseEngine, item.input));
      const after = summarizeVerdict(evaluateInput(headEngine, item.input));
      const parts = changedParts(before, after);
      if (parts.length === 0) continue;
      changed++;
      // Engines that changed the same input in the same way share one entry.
      const key = canonicalJson([item.key, outcome(before), outcome(after)]);
      const existing = merged.get(key);
      if (existing !== undefined) {
        existing.engines.push(kind);
        continue;
      }
      const change: InputChange = {
        key: item.key,
        input: item.input,
        origins: item.origins,
        engines: [kind],
        base: before,
        head: after,
        changed: parts,
        masks: maskChanges(before, after),
      };
      merged.set(key, change);
      changes.push(change);
    }
    changedByEngine[kind] = changed;
    progress(`${kind}: ${changed} of ${inputs.filter((i) => i.engines.includes(kind)).length} inputs changed`);
  }
  const order = new Map(inputs.map((item, i) => [item.key, i]));
  changes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));

  return {
    repository: opts.repo,
    base: base.described,
    head: head.described,
    engines,
    counts: {
      inputs: inputs.length,
      changed: new Set(changes.map((c) => c.key)).size,
      cases: collector.cases,
      auditRecords: collector.auditRecords,
      changedByEngine,
    },
    changes,
    warnings,
  };
}

function outcome(v: { action: string; policies: string[]; masks: unknown[] }): unknown {
  return { action: v.action, policies: v.policies, masks: v.masks };
}

/** A local repository as it is, or a mirror of a URL under cacheDir/mirrors/. */
export async function openRepository(repo: string, cacheDir: string, progress: (line: string) => void): Promise<GitRepo> {
  const local = resolve(repo);
  if (existsSync(local) && statSync(local).isDirectory()) {
    try {
      await gitIn(local).raw(['rev-parse', '--git-dir']);
    } catch {
      throw new DiffSourceError(`--repo ${repo}: not a git repository`);
    }
    return openLocalRepo(local, join(cacheDir, 'commits'));
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !/^[^/:]+@[^/:]+:/.test(repo)) {
    throw new DiffSourceError(`--repo ${repo}: no such directory, and not a git URL`);
  }
  const id = createHash('sha256').update(repo).digest('hex').slice(0, 16);
  progress(`fetching ${repo}`);
  try {
    return await syncMirror(repo, join(cacheDir, 'mirrors', id));
  } catch (e) {
    throw new DiffSourceError(`--repo ${repo}: ${firstLine(e)}`);
  }
}

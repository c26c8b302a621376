// Time from a commit to the policy it carries deciding statements: a Gatehouse follows a scratch git
// repository of the example policies; for each new commit (a harmless rule change), the harness POSTs
// /policy/refresh as a push webhook would and waits until the commit is the active revision. Each
// activation fetches, checks out, compiles (Rego: a cold `opa build`, the sources changed) and runs
// the repository's tests, as in production. Measures; never judges.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEV_ALGORITHM, type DevKeys } from '../auth/dev-keys.ts';
import { configFromObject } from '../config/load.ts';
import { commitAll, createPolicyRepo } from '../policy/repo/authoring.ts';
import type { EngineKind } from '../policy/types.ts';
import { startGateway, type RunningGateway } from '../server.ts';

export interface ActivationTiming {
  engine: EngineKind;
  /** Commits pushed; `samplesMs` has one entry per commit that became active. */
  commits: number;
  samplesMs: number[];
  medianMs: number | null;
  maxMs: number | null;
  /** Commits that were refused or did not become active in time, with why. */
  failures: string[];
}

export interface ActivationTimingOptions {
  /** Holds policies/ and policy-tests/ to seed the repository with. */
  projectRoot: string;
  /** Scratch space: the repositories, the gateways' work directories and audit files. */
  workDir: string;
  engines: EngineKind[];
  commits: number;
  upstreamUrl: string;
  keys: DevKeys;
  /** How long one commit may take to become active before it counts as a failure. */
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

const BENCH_AUTHOR = { name: 'Gatehouse bench', email: 'bench@gatehouse.invalid' };

/** The harmless change of commit n: one rule for a group no token carries, on a table that does not exist. */
export function harmlessPolicy(engine: EngineKind, n: number): { file: string; content: string } {
  switch (engine) {
    case 'rego':
      return {
        file: 'policies/rego/bench_activation.rego',
        content: [
          '# Written by the activation benchmark: changes with every commit, permits nothing anyone uses.',
          'package gatehouse',
          '',
          `allow contains {"id": "bench-activation", "reason": "activation benchmark commit ${n}", "on": "read", "table": t} if {`,
          `\tmember("bench-activation-${n}")`,
          '\tsome t in input.statement.tables_read',
          '\tt == "public.bench_activation"',
          '}',
          '',
        ].join('\n'),
      };
    case 'cedar':
      return {
        file: 'policies/cedar/bench_activation.cedar',
        content: [
          '// Written by the activation benchmark: changes with every commit, permits nothing anyone uses.',
          '@id("bench-activation")',
          `@reason("activation benchmark commit ${n}")`,
          `permit (principal in Gatehouse::Group::"bench-activation-${n}", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"public.bench_activation");`,
          '',
        ].join('\n'),
      };
    default: {
      const never: never = engine;
      throw new Error(`unknown engine ${String(never)}`);
    }
  }
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function measureActivationTimings(opts: ActivationTimingOptions): Promise<ActivationTiming[]> {
  const out: ActivationTiming[] = [];
  for (const engine of opts.engines) out.push(await measureEngine(engine, opts));
  return out;
}

async function measureEngine(engine: EngineKind, opts: ActivationTimingOptions): Promise<ActivationTiming> {
  const progress = opts.onProgress ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const repo = path.join(opts.workDir, `activation-${engine}-repo`);
  await createPolicyRepo(repo, opts.projectRoot, BENCH_AUTHOR);

  const config = configFromObject(
    {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { mode: 'disable' },
      auth: { issuer: opts.keys.issuer, audience: opts.keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: opts.keys.jwksPath } },
      upstream: { url: opts.upstreamUrl, pass_database: false },
      policies: { engine, git: { url: repo, branch: 'main', poll_interval_seconds: 0, work_dir: path.join(opts.workDir, `activation-${engine}-work`) } },
      admin: { host: '127.0.0.1', port: 0 },
      audit: { file: path.join(opts.workDir, `activation-${engine}-audit.ndjson`) },
    },
    opts.workDir,
  );
  const gw = await startGateway(config);
  const samplesMs: number[] = [];
  const failures: string[] = [];
  try {
    for (let n = 1; n <= opts.commits; n++) {
      const change = harmlessPolicy(engine, n);
      await writeFile(path.join(repo, change.file), change.content);
      const commit = await commitAll(repo, `Harmless change ${n}`, BENCH_AUTHOR);
      if (commit === null) throw new Error(`harmless change ${n} changed nothing`);
      const started = performance.now();
      const outcome = await triggerAndWait(gw, commit, timeoutMs);
      const ms = performance.now() - started;
      if (outcome === 'active') {
        samplesMs.push(ms);
        progress(`${engine}: commit ${n}/${opts.commits} active after ${ms.toFixed(0)} ms`);
      } else {
        failures.push(`commit ${n} (${commit.slice(0, 12)}): ${outcome}`);
        progress(`${engine}: commit ${n}/${opts.commits} FAILED: ${outcome}`);
      }
    }
  } finally {
    await gw.close();
  }
  return { engine, commits: opts.commits, samplesMs, medianMs: median(samplesMs), maxMs: samplesMs.length === 0 ? null : Math.max(...samplesMs), failures };
}

/** POST /policy/refresh, then poll until the commit decides statements; 'active' or why not. */
async function triggerAndWait(gw: RunningGateway, commit: string, timeoutMs: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}/policy/refresh`, { method: 'POST' });
  if (res.status !== 202) return `POST /policy/refresh answered ${res.status}`;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (gw.engine().revision === commit) return 'active';
    const refused = gw.policyStatus()?.last_refused;
    if (refused?.commit === commit) return `refused: ${refused.reason}`;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return `not active after ${timeoutMs} ms`;
}

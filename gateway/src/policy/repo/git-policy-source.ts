// The engine source for policies.git: follows a branch (or stays on a pin), activates each new
// commit only after it checks out, compiles and passes its tests, and keeps serving the previous
// commit when one is refused. Activations run one at a time; triggers that arrive meanwhile
// coalesce into one more run. After each activated or refused commit, old checkouts are pruned.

import { join } from 'node:path';
import { AUDIT_RECORD_VERSION, type AuditRecord } from '../../audit/types.ts';
import type { GitPolicyConfig } from '../../config/types.ts';
import type { EngineSource } from '../../enforce/decision-context.ts';
import { GatehouseError } from '../../errors.ts';
import type { EngineKind, PolicyEngine } from '../types.ts';
import type { BudgetCheck } from '../budget-gate.ts';
import { prepareCommit } from './activation.ts';
import { firstLine, syncMirror, type GitRepo } from './git-repo.ts';
import { pruneWorkDir } from './prune.ts';
import { commitInfo, resolveRef } from './resolve-ref.ts';
import { displayUrl, writeStatusFile, type PolicyStatus } from './status.ts';

export type ActivationResult =
  /** The commit passed and now decides every new statement. */
  | { outcome: 'activated'; commit: string; previous: string | null }
  /** The followed ref still names the active commit (or a commit already refused, on a poll). */
  | { outcome: 'unchanged'; commit: string }
  /** The commit did not check out, compile or pass its tests; the previous commit keeps serving. */
  | { outcome: 'refused'; commit: string; reason: string }
  /** The repository could not be fetched or the ref resolved; nothing was tried. */
  | { outcome: 'failed'; reason: string };

/** What asked for a refresh: a poll skips commits it already refused; the others retry them. */
export type RefreshTrigger = 'start' | 'poll' | 'signal' | 'http' | 'api';

export interface GitPolicySourceOptions {
  engine: EngineKind;
  git: GitPolicyConfig;
  opaPath?: string;
  /** One-line operator messages (activations, refusals, fetch failures). */
  onInfo?: (message: string) => void;
  /** Receives the 'policy' audit records (activated / refused). */
  audit?: (record: AuditRecord) => void;
  /** Candidates are evaluated over their test inputs within this budget before activation. */
  budget?: BudgetCheck;
}

interface Active {
  engine: PolicyEngine;
  subject: string;
  activatedAt: string;
}

export class GitPolicySource implements EngineSource {
  private active: Active | null = null;
  private readonly refused = new Set<string>();
  private running: Promise<ActivationResult> | null = null;
  private queued: Promise<ActivationResult> | null = null;
  private queuedRetries = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private state: PolicyStatus;
  private statusWrite: Promise<void> = Promise.resolve();

  constructor(private readonly opts: GitPolicySourceOptions) {
    const { git } = opts;
    this.state = {
      engine: opts.engine,
      source: { url: displayUrl(git.url), path: git.path, tests: git.tests },
      following: git.pin === null ? { branch: git.branch } : { pin: git.pin },
      active: null,
      last_refused: null,
      last_error: null,
      last_checked_at: null,
    };
  }

  /** The engine of the active commit. Every statement asks once, when it is decided. */
  current(): PolicyEngine {
    if (this.active === null) throw new GatehouseError('INTERNAL', 'no policy commit is active');
    return this.active.engine;
  }

  status(): PolicyStatus {
    return structuredClone(this.state);
  }

  /**
   * Activates the followed commit and starts polling. Fails closed: when no commit can be
   * activated, it throws and the gateway does not start.
   */
  async start(): Promise<ActivationResult> {
    const result = await this.refresh('start');
    if (this.active === null) {
      const why = result.outcome === 'refused' ? `commit ${result.commit} was refused: ${result.reason}` : result.outcome === 'failed' ? result.reason : result.outcome;
      throw new GatehouseError('CONFIG_INVALID', `no policy commit could be activated from ${this.state.source.url}: ${why}`, {
        hint: 'Gatehouse serves no statement without a policy; fix the repository or policies.git and start again.',
      });
    }
    const seconds = this.opts.git.pollIntervalSeconds;
    if (this.opts.git.pin === null && seconds > 0 && !this.stopped) {
      this.timer = setInterval(() => void this.refresh('poll'), seconds * 1000);
      this.timer.unref();
    }
    return result;
  }

  /** Fetches and activates the followed ref's commit if it is new. Serialised and coalesced. */
  refresh(trigger: RefreshTrigger = 'api'): Promise<ActivationResult> {
    if (trigger !== 'poll') this.queuedRetries = true;
    if (this.queued !== null) return this.queued;
    if (this.running === null) return this.launch();
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.launch();
    });
    return this.queued;
  }

  /** Stops polling and waits for an activation in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    await this.statusWrite;
  }

  private launch(): Promise<ActivationResult> {
    const retryRefused = this.queuedRetries;
    this.queuedRetries = false;
    const run = this.run(retryRefused).catch((e: unknown): ActivationResult => ({ outcome: 'failed', reason: firstLine(e) }));
    const tracked: Promise<ActivationResult> = run.finally(() => {
      if (this.running === tracked) this.running = null;
    });
    this.running = tracked;
    return tracked;
  }

  private async run(retryRefused: boolean): Promise<ActivationResult> {
    const { git } = this.opts;
    const ref = git.pin ?? git.branch;
    let repo: GitRepo;
    let commit: string;
    try {
      repo = await syncMirror(git.url, git.workDir);
      commit = await resolveRef(repo, git.pin === null ? `refs/heads/${git.branch}` : git.pin);
    } catch (e) {
      const reason = firstLine(e);
      this.update({ last_error: { at: now(), reason }, last_checked_at: now() });
      this.info(`policy: cannot check ${ref}: ${reason}`);
      return { outcome: 'failed', reason };
    }
    this.update({ last_checked_at: now(), last_error: null });
    if (this.stopped) return { outcome: 'failed', reason: 'policy source stopped' };
    if (this.active?.engine.revision === commit) return { outcome: 'unchanged', commit };
    if (!retryRefused && this.refused.has(commit)) return { outcome: 'unchanged', commit: this.active?.engine.revision ?? commit };
    if (git.pin !== null && this.active !== null) {
      // A pin means the reviewed commit and no other: a tag moved under a running gateway is
      // not followed. Restarting (or changing the pin) is the deliberate way to move.
      const active = this.active.engine.revision;
      return this.refuse(commit, `pin ${git.pin} now names ${commit.slice(0, 12)}, but a pinned gateway stays on the commit it started with (${active.slice(0, 12)}); restart Gatehouse or change policies.git.pin to serve the new commit`);
    }

    this.info(`policy: checking commit ${commit.slice(0, 12)} of ${ref}`);
    const candidate = await prepareCommit(repo, commit, {
      engine: this.opts.engine,
      policyPath: git.path,
      testsPath: git.tests,
      buildDir: this.buildDir(),
      ...(this.opts.opaPath === undefined ? {} : { opaPath: this.opts.opaPath }),
      ...(this.opts.budget === undefined ? {} : { budget: this.opts.budget }),
    });
    if (!candidate.ok) {
      const refusal = this.refuse(commit, candidate.reason);
      await this.prune(repo, commit);
      return refusal;
    }
    if (this.stopped) return { outcome: 'failed', reason: 'policy source stopped' };
    for (const w of candidate.warnings) this.info(`policy: WARNING: commit ${commit.slice(0, 12)}: ${w}`);

    const info = await commitInfo(repo, commit).catch(() => ({ commit, subject: '', committedAt: '' }));
    const previous = this.active?.engine.revision ?? null;
    const activatedAt = now();
    // The swap: statements decided from here on use the new commit.
    this.active = { engine: candidate.engine, subject: info.subject, activatedAt };
    this.refused.delete(commit);
    this.update({ active: { commit, subject: info.subject, activated_at: activatedAt } });
    this.info(`policy: activated commit ${commit} "${info.subject}"${previous === null ? '' : ` (was ${previous.slice(0, 12)})`}`);
    this.record('activated', commit, null, activatedAt);
    await this.prune(repo, commit);
    return { outcome: 'activated', commit, previous };
  }

  /** Refuses commit: remembered, shown in the status, logged and audited; the active commit keeps serving. */
  private refuse(commit: string, reason: string): ActivationResult {
    this.refused.add(commit);
    const at = now();
    this.update({ last_refused: { commit, at, reason } });
    const keeps = this.active === null ? 'no policy is active' : `commit ${this.active.engine.revision.slice(0, 12)} keeps serving`;
    this.info(`policy: refused commit ${commit} (${keeps}): ${reason}`);
    this.record('refused', commit, reason, at);
    return { outcome: 'refused', commit, reason };
  }

  /**
   * Removes the checkouts and compiled modules of commits neither active, just checked nor among
   * the most recently used (see prune.ts). Runs inside the activation, so no checkout is in
   * progress; a failure is only reported.
   */
  private async prune(repo: GitRepo, checked: string): Promise<void> {
    if (this.stopped) return;
    const { git } = this.opts;
    const keep = [checked, ...(this.active === null ? [] : [this.active.engine.revision])];
    try {
      const report = await pruneWorkDir({
        commitsDir: repo.commitsDir,
        buildDir: this.buildDir(),
        engine: this.opts.engine,
        policyPath: git.path,
        keep,
      });
      for (const failure of report.failures) this.info(`policy: pruning ${git.workDir}: ${failure}`);
      const removed = report.checkouts.length + report.modules.length + report.temporary.length;
      if (removed > 0) {
        this.info(
          `policy: pruned ${git.workDir}: ${report.checkouts.length} old checkout(s), ${report.modules.length} compiled module(s), ` +
            `${report.temporary.length} leftover temporary dir(s); ${report.kept.length} checkout(s) kept`,
        );
      }
    } catch (e) {
      this.info(`policy: pruning ${git.workDir} failed: ${firstLine(e)}`);
    }
  }

  private buildDir(): string {
    return join(this.opts.git.workDir, 'build');
  }

  private update(change: Partial<PolicyStatus>): void {
    this.state = { ...this.state, ...change };
    const snapshot = this.status();
    // Written in order; a failure is reported and the next change tries again.
    this.statusWrite = this.statusWrite
      .then(() => writeStatusFile(this.opts.git.workDir, snapshot))
      .catch((e: unknown) => this.info(`policy: cannot write status.json: ${firstLine(e)}`));
  }

  private record(event: 'activated' | 'refused', commit: string, reason: string | null, time: string): void {
    try {
      this.opts.audit?.({ v: AUDIT_RECORD_VERSION, type: 'policy', time, event, revision: commit, engine: this.opts.engine, reason });
    } catch (e) {
      this.info(`policy: cannot write the ${event} audit record for ${commit}: ${firstLine(e)}`);
    }
  }

  private info(message: string): void {
    this.opts.onInfo?.(message);
  }
}

function now(): string {
  return new Date().toISOString();
}

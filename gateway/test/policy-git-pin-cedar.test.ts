// Policies from git with Cedar: a gateway pinned to a tag stays on it while the branch moves on; a
// gateway following the branch activates a Cedar change and refuses a set that does not validate;
// and a gateway whose first commit cannot be activated does not start (fail closed).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { configFromObject } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { testConfigDocument } from './support/gateway-config.ts';
import { ensureClinicDatabase, readAudit, sqlstateOf, recorded } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo, git, READERS_SQL, readersCases, readersPolicy } from './support/policy-repo.ts';
import { connectedTokenClient } from './support/token-client.ts';



const READERS_CASES = readersCases('cedar');

/** Parses, but names an action the schema does not have: strict validation refuses it. */
const INVALID_CEDAR = `@id("fly")
permit (principal, action == Gatehouse::Action::"fly", resource);
`;


describe('policies from git (cedar)', () => {
  let repo: string;
  let upstreamUrl: string;
  let keyDir: string;
  const gateways: RunningGateway[] = [];
  const clients: pg.Client[] = [];
  let v1: string;

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    v1 = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'tag', '-a', 'v1', '-m', 'Release v1');
    upstreamUrl = await ensureClinicDatabase();
    keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-keys-'));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    for (const gw of gateways) await gw.close();
  });

  const start = async (git: Record<string, unknown>): Promise<{ gw: RunningGateway; auditFile: string }> => {
    const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-git-'));
    const config = configFromObject(
      await testConfigDocument(keyDir, {
        upstream: { url: upstreamUrl },
        policies: { engine: 'cedar', git: { url: repo, poll_interval_seconds: 0, ...git }, eval_timeout_ms: 5000 },
        audit: { file: 'audit.ndjson' },
      }),
      workDir,
    );
    const gw = await startGateway(config);
    gateways.push(gw);
    return { gw, auditFile: join(workDir, 'audit.ndjson') };
  };

  const readerOn = async (gw: RunningGateway): Promise<pg.Client> => {
    const c = await connectedTokenClient({ port: gw.port, keyDir, subject: 'reader-1', groups: ['lifecycle-readers'], user: 'reader' });
    clients.push(c);
    return c;
  };

  const lastRevision = (auditFile: string): string | null =>
    readAudit(auditFile)
      .filter((r): r is Extract<AuditRecord, { type: 'statement' }> => r.type === 'statement' && r.statement === recorded(READERS_SQL))
      .at(-1)?.revision ?? null;

  it('pinned to a tag: later commits on the branch are not activated', async () => {
    const { gw, auditFile } = await start({ pin: 'v1' });
    const reader = await readerOn(gw);
    expect(gw.engine().kind).toBe('cedar');
    expect(gw.engine().revision).toBe(v1);
    expect(gw.policyStatus()?.following).toEqual({ pin: 'v1' });

    const c2 = commitFiles(repo, { 'policies/cedar/lifecycle.cedar': readersPolicy('cedar'), 'policy-tests/lifecycle.yaml': READERS_CASES }, 'Let lifecycle readers read visits');
    expect(c2).not.toBe(v1);
    expect(await gw.refreshPolicies()).toEqual({ outcome: 'unchanged', commit: v1 });
    expect(await sqlstateOf(reader, READERS_SQL)).toBe('42501');
    expect(lastRevision(auditFile)).toBe(v1);

    // The tag is force-moved to the new commit: the running gateway does not follow it.
    git(repo, 'tag', '-f', '-a', 'v1', '-m', 'Release v1, moved', c2);
    try {
      const moved = await gw.refreshPolicies();
      expect(moved).toMatchObject({ outcome: 'refused', commit: c2 });
      expect(moved !== null && moved.outcome === 'refused' ? moved.reason : '').toMatch(/^pin v1 now names [0-9a-f]{12}, but a pinned gateway stays on .*restart Gatehouse or change policies\.git\.pin/);
      expect(gw.engine().revision).toBe(v1);
      expect(gw.policyStatus()?.last_refused?.commit).toBe(c2);
      expect(readAudit(auditFile).filter((r) => r.type === 'policy').at(-1)).toMatchObject({ event: 'refused', revision: c2 });
      expect(await sqlstateOf(reader, READERS_SQL)).toBe('42501');
      expect(lastRevision(auditFile)).toBe(v1);
    } finally {
      git(repo, 'tag', '-f', '-a', 'v1', '-m', 'Release v1', v1);
    }
  });

  it('following the branch: a Cedar change is activated, a set that does not validate is refused', async () => {
    const c2 = git(repo, 'rev-parse', 'HEAD');
    const { gw, auditFile } = await start({});
    const reader = await readerOn(gw);
    expect(gw.engine().revision).toBe(c2);
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(lastRevision(auditFile)).toBe(c2);

    const c3 = commitFiles(repo, { 'policies/cedar/invalid.cedar': INVALID_CEDAR }, 'Invalid: an action the schema does not know');
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'refused', commit: c3 });
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(lastRevision(auditFile)).toBe(c2);
    const refusal = readAudit(auditFile).filter((r) => r.type === 'policy').at(-1);
    expect(refusal).toMatchObject({ type: 'policy', event: 'refused', revision: c3, engine: 'cedar' });
    expect(gw.policyStatus()?.last_refused?.commit).toBe(c3);
    git(repo, 'revert', '--no-edit', 'HEAD');
  });

  it('polls the branch and activates a new head without being asked', async () => {
    const { gw } = await start({ poll_interval_seconds: 1 });
    const before = gw.engine().revision;
    const next = commitFiles(repo, { 'policies/cedar/notes.cedar': '// A comment-only file: the set is unchanged.\n' }, 'Docs: a note');
    expect(next).not.toBe(before);
    for (let i = 0; i < 100 && gw.engine().revision !== next; i++) await new Promise((r) => setTimeout(r, 100));
    expect(gw.engine().revision).toBe(next);
    expect(gw.policyStatus()?.active?.subject).toBe('Docs: a note');
  });

  it('does not start when the followed commit cannot be activated (no policy, no service)', async () => {
    git(repo, 'checkout', '-q', '-b', 'broken');
    commitFiles(repo, { 'policies/cedar/invalid.cedar': INVALID_CEDAR }, 'Invalid on a branch');
    git(repo, 'checkout', '-q', 'main');
    await expect(start({ branch: 'broken' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(start({ branch: 'no-such-branch' })).rejects.toThrow(/no-such-branch/);
    await expect(start({ url: join(repo, 'missing') })).rejects.toThrow(/cannot fetch/);
  });
});

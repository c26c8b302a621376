// `gatehouse approvals` against a running gateway: a held statement listed, shown and approved
// from the command line, a refusal reported with exit 1, grants listed and revoked.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pendingRequest, useApprovalGateway } from './support/approvals.ts';
import { REPO_ROOT } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';

const fx = useApprovalGateway();

function cli(args: string[], token = fx.leadToken) {
  return runTool(process.execPath, [join(REPO_ROOT, 'gateway/bin/gatehouse.js'), 'approvals', ...args], {
    env: { GATEHOUSE_ADMIN_URL: `http://127.0.0.1:${fx.adminPort}`, GATEHOUSE_TOKEN: token },
    killAfterMs: 60_000,
  });
}

describe('gatehouse approvals', () => {
  it('lists, shows and approves a held statement, which then runs', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0301' WHERE id = 31");
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0301'");
    const list = await cli(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout.toString()).toContain(request.id);
    const show = await cli(['show', request.id]);
    expect(show.stdout.toString()).toContain("SET phone = '555-0301'");
    const self = await cli(['approve', request.id], fx.agentToken);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('nobody answers their own request');
    const approve = await cli(['approve', request.id, '--comment', 'checked', '--grant', '5']);
    expect(approve.code).toBe(0);
    expect(approve.stdout.toString()).toMatch(/approved/);
    expect((await held).rowCount).toBe(1);
    const grants = await cli(['grants', '--json']);
    const grant = JSON.parse(grants.stdout.toString()).grants.find((g: { request_id: string }) => g.request_id === request.id);
    expect(grant.state).toBe('active');
    const revoke = await cli(['revoke', grant.id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout.toString()).toContain('revoked');
  });

  it('pages with --limit and --before, printing the cursor of the next page', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    // Three closed requests, denied from the CLI, one after the other.
    const ours: string[] = [];
    for (const phone of ['555-0311', '555-0312', '555-0313']) {
      const held = agent.query(`UPDATE clinical.patients SET phone = '${phone}' WHERE id = 31`).catch((e: { code?: string }) => e.code);
      const request = await pendingRequest(fx.adminPort, fx.leadToken, `'${phone}'`);
      ours.push(request.id);
      expect((await cli(['deny', request.id, '--comment', 'paging test'])).code).toBe(0);
      expect(await held).toBe('42501');
    }
    const seen: string[] = [];
    let args = ['list', '--state', 'closed', '--limit', '2'];
    for (let i = 0; i < 20; i++) {
      const out = await cli(args);
      expect(out.code).toBe(0);
      const lines = out.stdout.toString().trim().split('\n');
      const next = lines.find((l) => l.startsWith('next page: --before '));
      const rows = lines.filter((l) => /^[0-9a-f-]{36} /.test(l));
      expect(rows.length).toBeLessThanOrEqual(2);
      seen.push(...rows.map((l) => l.slice(0, 36)));
      if (next === undefined) break;
      args = ['list', '--state', 'closed', '--limit', '2', '--before', next.slice('next page: --before '.length)];
    }
    expect(new Set(seen).size).toBe(seen.length);
    // Each once, newest first.
    expect(seen.filter((id) => ours.includes(id))).toEqual([...ours].reverse());
    const json = JSON.parse((await cli(['list', '--state', 'closed', '--limit', '1', '--json'])).stdout.toString());
    expect(json).toMatchObject({ requests: [expect.any(Object)], next: expect.any(String), total: null });
    expect((await cli(['grants', '--limit', '1'])).code).toBe(0);
    const help = await cli(['--help']);
    expect(help.stdout.toString()).toMatch(/--before <cursor>[\s\S]*next page: --before <cursor>/);
  });

  it('says what is wrong on the command line (exit 2)', async () => {
    expect((await cli(['approve'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['list', '--grant', '5'])).code).toBe(2);
    expect((await cli(['list', '--limit', 'many'])).code).toBe(2);
    expect((await cli(['show', 'x', '--before', 'abc'])).code).toBe(2);
    // Out of range and malformed cursors are the API's to refuse: exit 1 with its reason.
    const bad = await cli(['list', '--before', 'nonsense']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('before is not a cursor');
    expect((await cli(['grants', '--limit', '501'])).stderr).toContain('limit must be a whole number from 1 to 500');
  });
});

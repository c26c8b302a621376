// Ninth red-team round, against three changes of session 9: a refused Parse of the unnamed statement
// drops the unnamed statement (pg/session.ts, aa0c526), gated activation timing a new policy on recent
// statements of the audit log (audit/recorded-inputs.ts, policy/budget-gate.ts, ea80c16), and
// CancelRequest handling (pg/cancel-registry.ts, the protocol fuzzer's cancel rounds, 6a8f7b1).
// Through Gatehouse to the real PostgreSQL, with real clients, JWTs and OPA-built policies.
//
// Every test asserts the SECURE behaviour. Findings (details in the report of branch redteam9a):
//   R9-1 (high, fixed) an agent could block every policy rollout and the gateway's restart. Gated
//        activation timed a candidate on the newest distinct statements of the audit log, and agents
//        choose what is recorded: a statement that overruns the evaluation budget (denied 57014, but
//        recorded with its complete input) refused every later commit that was as slow on it as the
//        serving policy (any commit, when the input is slow for any policy: a security fix included),
//        and at start (no serving policy) the followed commit itself was refused, so the gateway did not
//        start. Recorded inputs that overran when served are now passed over (a note is logged), and a
//        recorded input the candidate overruns refuses it only when the serving policy does not
//        overrun it too (policy/budget-gate.ts checkRecordedInputs).
//   R9-3 (medium, fixed) a CancelRequest of a session whose client was idle cancelled the session's
//        NEXT statement (4 to 11 of 25 rounds; 0 of 25 straight to PostgreSQL): after a statement that
//        calls a function Gatehouse runs its own search_path probe upstream, and the cancel, forwarded
//        whenever the keys matched, hit the probe and stayed pending in the backend until the client's
//        next statement; and the client's cancel connection was closed before Gatehouse's cancel had
//        reached the server. A cancel now goes upstream only while a client message is unanswered there
//        (PendingQueue.clientWorkInFlight), and the client's cancel connection closes once the server
//        has it (as PostgreSQL's does). A flood of cancels (wrong keys, own key) cancelled nothing of
//        another session (no finding); each valid cancel still opens one upstream connection (not rate
//        limited: the same as a client flooding PostgreSQL directly with its own key).
//   R9-2 (none found) a refused Parse of the unnamed statement: in no sequence tried (alone, after a
//        forwarded message, behind an upstream error that makes the server skip until Sync, in a
//        block, followed by Bind/Describe/Execute or by a new Parse) did an Execute run a statement
//        Gatehouse had not decided; Gatehouse's table only ever lacks an unnamed statement the
//        server still has, never the reverse, and the tests below keep it so. Known divergence (safe
//        side, not fixed): when the server skips an allowed or refused unnamed Parse after an earlier
//        error of its batch, PostgreSQL keeps the previous unnamed statement (a later Bind runs it)
//        while Gatehouse has none (26000); undoing a skipped Parse would need the entry to remember
//        the statement it replaced.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { loopingRego } from './support/looping-policy.ts';
import { commitFiles, createTestPolicyRepo, git } from './support/policy-repo.ts';
import { connectedTokenClient } from './support/token-client.ts';
import { directSession } from './support/differential.ts';
import { prepareDatabase } from './support/protocol-fuzz/session.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

/** Loops for statements that mention hostile_shape: the serving policy itself is slow on that shape. */
const SLOW_ON_HOSTILE = loopingRego('hostile_shape');

const DENIED = "SELECT pg_read_file('/etc/passwd')";

describe('R9-1: a recorded statement that overran the budget blocks neither policy rollout nor restart', () => {
  let gw: RunningGateway | null = null;
  let repo: string;
  let configFile: string;
  let workDir: string;
  let client: pg.Client;

  const connect = (port: number): Promise<pg.Client> => connectedTokenClient({ port, keyDir: join(workDir, 'keys'), subject: 'agent-r9', groups: ['agents'] });

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    commitFiles(repo, { 'policies/rego/slow.rego': SLOW_ON_HOSTILE }, 'A rule slow on one shape (the serving policy)');
    workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-r9-'));
    configFile = await writeTestConfig(workDir, {
      upstream: { url: await ensureClinicDatabase() },
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 200 },
      audit: { file: 'audit.ndjson' },
    });
    gw = await startGateway(await loadConfig(configFile));
    client = await connect(gw.port);
  });
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    await gw?.close();
  });

  it('a new commit as slow as the serving one on an agent-chosen statement is activated', async () => {
    const serving = git(repo, 'rev-parse', 'HEAD');
    expect(gw!.engine().revision).toBe(serving);
    // The agent's statement: over budget under the serving policy, denied, recorded with its input.
    await expect(client.query('SELECT 1 AS hostile_shape')).rejects.toMatchObject({ code: '57014' });
    // An unrelated fix (a new rule file): the candidate is exactly as slow on that shape.
    const fix = commitFiles(repo, { 'policies/rego/r9_extra.rego': 'package gatehouse\n\nr9_extra_rule := true\n' }, 'An unrelated fix');
    const result = await gw!.refreshPolicies();
    expect(result).toMatchObject({ outcome: 'activated', commit: fix });
    expect(gw!.engine().revision).toBe(fix);
  });

  it('a commit slower than the serving one on a recorded statement is still refused (the check keeps its use)', async () => {
    const serving = gw!.engine().revision;
    expect((await client.query('SELECT 1 AS r9_rare_marker')).rows).toEqual([{ r9_rare_marker: 1 }]);
    const slow = commitFiles(repo, { 'policies/rego/slow2.rego': loopingRego('r9_rare_marker', 'slow2') }, 'A rule that loops on one served shape');
    const result = await gw!.refreshPolicies();
    expect(result).toMatchObject({ outcome: 'refused', commit: slow });
    expect(result?.outcome === 'refused' ? result.reason : '').toContain('SELECT $1 AS r9_rare_marker');
    expect(gw!.engine().revision).toBe(serving);
    commitFiles(repo, { 'policies/rego/slow2.rego': null }, 'Revert the slow rule');
    expect(await gw!.refreshPolicies()).toMatchObject({ outcome: 'activated' });
  });

  it('the gateway starts again with that statement newest in its audit log', async () => {
    await expect(client.query('SELECT 2 AS hostile_shape_again')).rejects.toMatchObject({ code: '57014' });
    await client.end();
    await gw!.close();
    gw = null;
    gw = await startGateway(await loadConfig(configFile));
    client = await connect(gw.port);
    expect((await client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
  });
});

describe('R9-2: after a refused Parse of the unnamed statement, nothing undecided runs', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await startTestGateway();
    await prepareDatabase(t.upstreamUrl);
    token = await t.token('r9-unnamed', ['agents']);
  });
  afterAll(async () => t?.close());

  async function through(count: number, ...messages: Buffer[]): Promise<Message[][]> {
    const w = await WireClient.connect(t.port, token);
    try {
      w.send(...messages);
      return await w.untilReady(count);
    } finally {
      w.close();
    }
  }
  async function direct(count: number, ...messages: Buffer[]): Promise<Message[][]> {
    const d = await directSession(t.upstreamUrl);
    try {
      d.send(...messages);
      return await d.untilReady(count);
    } finally {
      d.close();
    }
  }
  const rowsText = (groups: Message[][]): string => JSON.stringify(groups.map(rowsOf));

  it('refused alone (answered by Gatehouse, the old one still prepared upstream): a Bind and Execute get 26000, not the old rows', async () => {
    const gh = await through(
      3,
      serialize.parse({ text: "SELECT 'old_unnamed' AS v" }),
      serialize.sync(),
      serialize.parse({ text: DENIED }),
      serialize.sync(),
      serialize.bind({}),
      serialize.execute({}),
      serialize.describe({ type: 'S', name: '' }),
      serialize.sync(),
    );
    expect(errorCodes(gh[1]!)).toEqual(['42501']);
    expect(errorCodes(gh[2]!)).toEqual(['26000']);
    expect(rowsText(gh)).not.toContain('old_unnamed');
  });

  it('refused behind an upstream error (the server skips the failing Parse): the old one is not run after Sync', async () => {
    const gh = await through(
      4,
      serialize.parse({ text: "SELECT 'old_unnamed' AS v" }),
      serialize.sync(),
      serialize.query('SELECT 1/0'), // not skipping: fails alone
      serialize.parse({ name: 'needs_param', text: 'SELECT $1::int AS p' }),
      serialize.bind({ statement: 'needs_param' }), // no parameter: 08P01 upstream, skipping until Sync
      serialize.parse({ text: DENIED }),
      serialize.sync(),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    );
    expect(errorCodes(gh[1]!)).toEqual(['22012']);
    expect(errorCodes(gh[2]!)).toEqual(['08P01']);
    expect(errorCodes(gh[3]!)).toEqual(['26000']);
    expect(rowsText(gh)).not.toContain('old_unnamed');
  });

  it('refused in a block, then the same unnamed Parse allowed: the new statement runs, as in PostgreSQL', async () => {
    const allowed = "SELECT 'new_unnamed' AS v";
    const messages = [
      serialize.query('BEGIN'),
      serialize.parse({ text: "SELECT 'old_unnamed' AS v" }),
      serialize.parse({ text: 'SELEC 1' }), // refused by Gatehouse's parser, failing Parse upstream
      serialize.sync(),
      serialize.query('ROLLBACK'),
      serialize.parse({ text: allowed }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    ];
    const [gh, pg] = await Promise.all([through(4, ...messages), direct(4, ...messages)]);
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
    expect(rowsText(gh)).toContain('new_unnamed');
    expect(rowsText(gh)).not.toContain('old_unnamed');
  });

  it('a denied unnamed Parse pipelined behind an allowed one in the same batch: the Bind after Sync is refused, no rows', async () => {
    const gh = await through(
      2,
      serialize.parse({ text: "SELECT 'old_unnamed' AS v" }),
      serialize.parse({ text: DENIED }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    );
    expect(errorCodes(gh[0]!)).toEqual(['42501']);
    expect(errorCodes(gh[1]!)).toEqual(['26000']);
    expect(rowsText(gh)).not.toContain('old_unnamed');
    expect(rowsText(gh)).not.toContain('root');
  });
});

describe('R9-3: CancelRequests through Gatehouse', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await startTestGateway();
    token = await t.token('r9-cancel', ['agents']);
  });
  afterAll(async () => t?.close());

  const firstCodes = (groups: Message[][]): string[] => groups.flatMap(errorCodes);

  it('a cancel of an idle session, answered (connection closed), does not cancel the statement sent next', async () => {
    // PostgreSQL closes a cancel connection once it has signalled the backend, which ignores the
    // signal while idle: a statement sent after that close is never cancelled by it (0 of 25 here).
    // Through Gatehouse 4 to 11 of 25 were: the cancel hit Gatehouse's own search_path probe and
    // stayed pending in the backend, and the client's cancel connection closed before the cancel
    // reached the server at all. The tolerance of 2 is for scheduling noise only.
    const rounds = 25;
    // A function call: Gatehouse asks the server for search_path right behind it (its hidden probe).
    const NEXT_STATEMENT = 'SELECT pg_sleep(0.02)';
    const gh = await WireClient.connect(t.port, token);
    const pgDirect = await directSession(t.upstreamUrl);
    try {
      const cancelled = { gh: 0, pg: 0 };
      for (let i = 0; i < rounds; i++) {
        for (const [side, c] of [['gh', gh], ['pg', pgDirect]] as const) {
          await c.cancel();
          c.send(serialize.query(NEXT_STATEMENT));
          const codes = firstCodes(await c.untilReady(1));
          if (codes.includes('57014')) cancelled[side]++;
        }
      }
      console.log(`R9-3 next statements cancelled of ${rounds}: ${JSON.stringify(cancelled)}`);
      expect(cancelled.gh).toBeLessThanOrEqual(cancelled.pg + 2);
    } finally {
      gh.close();
      pgDirect.close();
    }
  });

  it('a flood of cancels with wrong keys and with its own key cancels nothing of another session, which keeps completing', async () => {
    const flooder = await WireClient.connect(t.port, token);
    const victim = await WireClient.connect(t.port, token);
    try {
      victim.send(serialize.query('SELECT pg_sleep(1) AS slept'));
      const victimDone = victim.untilReady(1);
      const key = flooder.key!;
      const flood: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) {
        flood.push(flooder.cancel({ processID: key.processID, secretKey: (key.secretKey + 1 + i) | 0 }));
        flood.push(flooder.cancel());
      }
      await Promise.all(flood);
      const [group] = await victimDone;
      expect(errorCodes(group!)).toEqual([]);
      expect(names(group!)).toContain('dataRow');
      flooder.send(serialize.query('SELECT 3 AS n'));
      expect(rowsOf((await flooder.untilReady(1))[0]!)).toHaveLength(1);
    } finally {
      flooder.close();
      victim.close();
    }
  });
});

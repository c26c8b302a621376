// Seventh red-team round, against what landed together in session 6 and was never attacked together:
// the decision cache shared by all sessions (enforce/decision-cache.ts, policy/input-reads.ts), masking
// at the source with the audit evidence (audit/redact.ts, audit/file-sink.ts, audit/verify.ts), through
// Gatehouse to the real PostgreSQL with the example HIPAA policies and real clients.
//
// Every test asserts the SECURE behaviour. Findings (details in the report of branch redteam7):
//   R7-1 (high, fixed) a Rego template string ($"...{input.x}..." or $`...`, OPA 1.x) hid the input it
//        reads from the decision cache's key: regoInputReads skipped it as string text. A policy that
//        decides on a part of the input named only inside a template string had that part left out of
//        the key, so one session's verdict was reused for another session that differs exactly there:
//        a blocked application_name got the allow its neighbour got, and a deny reason quoting the
//        statement text or subject went to another identity (its literals included). Template strings
//        now count as reading the whole input.
//   R7-2 (medium, fixed) literals of utility statements reached the audit log: PostgreSQL's
//        normalization (pg_stat_statements', through libpg-query) leaves the constants of most utility
//        statements as they are, so `EXECUTE p('123-45-6789')`, `PREPARE p AS SELECT ... WHERE ssn =
//        '...'`, `CREATE TABLE x AS SELECT ... WHERE ssn = '...'`, `CREATE VIEW`, `COPY ... TO PROGRAM
//        '...'`, `COMMENT ON ... IS '...'`, `ALTER ... DEFAULT '...'` were recorded with their literals,
//        refused ones included. Every literal the normalization left is now replaced by a $n as well.
//   R7-3 (low, fixed) the setting guard's refusal reason quoted the refused value, and the audit record
//        keeps a parsed statement's reason: `SET client_encoding TO '<ssn>'`, or set_config() with the
//        value as a bound parameter (never recorded otherwise), put it in the log. The reason now names
//        the setting only (the client's error still shows its own value).
//   R7-4 (low, fixed) PostgreSQL shows some values without double quotes in its messages
//        (`date field value out of range: 123-45-6789` from make_date, `requested character too large
//        for encoding: N` from chr): outcome messages blanked double-quoted parts only, so such a value
//        reached the outcome record. Numbers of three or more digits are now blanked too.
//   R7-5 (medium, fixed) an evaluation stopped over its CPU budget was cached like a verdict
//        (eval-pool.ts marked it not transient), under a key without the statement text that made it
//        slow: one agent sending `SELECT id FROM clinical.visits WHERE id = 1 /* a megabyte of \x01
//        */` (each character is six bytes of JSON input: about 115 ms of CPU against the default
//        100 ms budget) made every later SELECT of clinical.visits without functions, by anyone of
//        the same groups, fail with 57014 until the next policy activation or eviction. Over-budget
//        denies are now transient, as docs/policies.md says.
//   R7-6 (medium, fixed) `gatehouse approvals list/show` printed the held statement's text, its
//        literals and the requester's reason (gatehouse.reason, or a reason: comment) to the
//        approver's terminal as they were: escape sequences in a comment or a string could erase
//        the real statement and print a harmless one over it (`UPDATE clinical.patients ... /*
//        ESC[2K ESC[1G statement  SELECT ... */`), so an approver would approve what they did not
//        see. Control and bidi characters are now printed as \uXXXX escapes (cli/terminal-text.ts),
//        and continuation lines of a requester's text are indented. The page shows text nodes and
//        the Slack message escapes &, <, >: both were already safe.
//   R7-7 (medium, fixed) `opa build` compiled .rego files in hidden directories of the policy
//        directory (`.drafts/x.rego`), which readPolicyFiles skips: the revision hash, the compiled
//        module's cache name, the input reads and the determinism check did not see them. A rule
//        there decided statements while its reads were missing from the decision cache key (a
//        session of a blocked application_name got the allow another session got), and editing it
//        changed neither the revision nor the cached module. opa now ignores hidden entries too. The
//        same held for a symbolic link to a .rego file or directory (a git repository may hold
//        one): opa followed it, readPolicyFiles skipped it; links are now followed on both sides.
//   R7-8 (medium, fixed) a restarted gateway continued the chain from the last line of its file even
//        when the chain state saved beside it (`<file>.chain`, written at every checkpoint) named a
//        later record: someone who cut the log while the gateway was stopped (every record from a
//        chosen statement on, the checkpoints after it included) got a log that `gatehouse audit
//        verify` accepted with exit 0 once the restarted gateway signed its next checkpoint. The
//        gateway now says so at error level and continues from the saved checkpoint, so verify
//        reports the missing records (exit 1). (Removing the .chain file as well still hides such a
//        cut: the files alone cannot prove completeness, docs/audit.md.)
//
// Run: GATEHOUSE_TEST_DB=gatehouse_test_redteam7 npx vitest run --project integration gateway/test/redteam-round7.test.ts

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditText as auditTextOf, REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';
import { pendingRequest } from './support/approvals.ts';
import { probe, useRedTeam } from './support/redteam.ts';
import { runGatehouse, runTool } from './support/run-tool.ts';

/** A copy of the example Rego policies with `extra` added as rt7.rego (a policy under test). */
function regoPoliciesWith(extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rt7-policies-'));
  cpSync(join(REPO_ROOT, 'policies', 'rego'), dir, { recursive: true, filter: (src) => !src.endsWith('_test.rego') });
  writeFileSync(join(dir, 'rt7.rego'), extra);
  return dir;
}

// R7-1: policies that read a part of the input only inside a template string.
const TEMPLATE_POLICY = `package gatehouse

# An application the security team blocked, named only inside a template string.
app_label := $"{input.session.application_name}"

deny contains {"id": "rt7-blocked-app", "reason": "this application is blocked"} if app_label == "rt7-blocked-tool"

# A reason that says who asked what.
deny contains {"id": "rt7-no-md5", "reason": $"{input.identity.subject} may not hash values here: {input.statement.text}"} if {
	some f in input.statement.functions
	endswith(f, "md5")
}
`;

describe('R7-1: a Rego template string is part of the decision cache key', () => {
  let t: TestGateway;
  let dir: string;

  beforeAll(async () => {
    dir = regoPoliciesWith(TEMPLATE_POLICY);
    t = await startTestGateway({ engine: 'rego', policiesDir: dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a blocked application_name does not get the allow another session got for the same statement', async () => {
    const allowed = await t.client(await t.token('rt7-app-ok', ['agents']), { application_name: 'psql' });
    const blocked = await t.client(await t.token('rt7-app-blocked', ['agents']), { application_name: 'rt7-blocked-tool' });
    const sql = 'SELECT id FROM clinical.visits WHERE id = 1';
    expect((await probe(allowed, sql)).code).toBeNull();
    const outcome = await probe(blocked, sql);
    expect(outcome.code).toBe('42501');
    expect(outcome.message).toContain('this application is blocked');
  });

  it("a deny reason quoting one identity's statement is not shown to another identity", async () => {
    const alice = await t.client(await t.token('rt7-alice', ['agents']));
    const bob = await t.client(await t.token('rt7-bob', ['agents']));
    const first = await probe(alice, "SELECT md5('alice-secret-4711')");
    expect(first.code).toBe('42501');
    expect(first.message).toContain('rt7-alice');
    const second = await probe(bob, "SELECT md5('bob-value')");
    expect(second.code).toBe('42501');
    expect(second.message).not.toContain('alice');
    expect(second.message).toContain('rt7-bob');
  });
});

// R7-5: an over-budget deny was cached like a verdict, under a key without the statement text that
// made the evaluation slow (a megabyte of control characters in a comment). OPA now gets only the input
// parts the policies read, the same parts the key holds (policy/rego-input-json.ts), so the text no
// longer slows an evaluation it is not read by; the slowness here is a rule that loops for one identity
// (the subject is read, so it is in the key). The other identity sends the very same statement: the same
// shape, which the per-identity cool-down after an overrun must not refuse for it, nor any cached deny.
const SLOW_FOR_ONE_IDENTITY = `package gatehouse

deny contains {"id": "rt7-slow", "reason": "a rule that loops for one identity"} if {
	input.identity.subject == "rt7-slow"
	count([x | some x in numbers.range(1, 1000000); x % 7 == 3]) > 0
}
`;

describe('R7-5: an over-budget deny is not reused for other sessions', () => {
  let t: TestGateway;
  let dir: string;

  beforeAll(async () => {
    dir = regoPoliciesWith(SLOW_FOR_ONE_IDENTITY);
    t = await startTestGateway({ engine: 'rego', policiesDir: dir, evalTimeoutMs: 30 });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("one agent's slow statement does not deny the same statement to another agent", async () => {
    const attacker = await t.client(await t.token('rt7-slow', ['agents']));
    const victim = await t.client(await t.token('rt7-victim', ['agents']));
    const sql = 'SELECT id FROM clinical.visits WHERE id = 1';
    const slow = await probe(attacker, sql);
    expect(slow.code).toBe('57014');
    expect((await probe(victim, sql)).code).toBeNull();
    // Again, now that the attacker's identity is in its cool-down for this shape.
    expect((await probe(attacker, sql)).code).not.toBeNull();
    expect((await probe(victim, 'SELECT id FROM clinical.visits WHERE id = 2')).code).toBeNull();
  });
});

// R7-6: a held statement's text and the requester's reason are the requester's words, printed by
// `gatehouse approvals` on an approver's terminal.
describe("R7-6: a requester's text cannot steer the approver's terminal", () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway({ admin: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  const cli = (args: string[], token: string) =>
    runTool(process.execPath, [join(REPO_ROOT, 'gateway/bin/gatehouse.js'), 'approvals', ...args], {
      env: { GATEHOUSE_ADMIN_URL: `http://127.0.0.1:${t.gw.adminPort}`, GATEHOUSE_TOKEN: token },
      killAfterMs: 60_000,
    });

  it('escape sequences in the statement and in gatehouse.reason are shown, not obeyed', async () => {
    const lead = await t.token('rt7-lead', ['clinical-leads']);
    const agent = await t.client(await t.token('rt7-requester', ['agents']));
    // Erase the line, go back to its start, and print a harmless statement over the real one.
    const spoof = '\u001b[2K\u001b[1G\rstatement  SELECT id FROM clinical.visits WHERE id = 1';
    await agent.query(`SET gatehouse.reason = '${spoof.replace('statement', 'reason')}'`);
    const held = agent.query(`UPDATE clinical.patients SET phone = '555-0377' WHERE id > 0 /*${spoof}*/`).catch((e: unknown) => e);
    const request = await pendingRequest(t.gw.adminPort!, lead, "'555-0377'");
    try {
      for (const args of [['show', request.id], ['list'], ['show', request.id, '--json']]) {
        const out = await cli(args, lead);
        expect(out.code, args.join(' ')).toBe(0);
        const text = out.stdout.toString();
        expect(text).toContain('555-0377');
        expect(text, args.join(' ')).not.toMatch(/[\u001b\r\u009b]/);
      }
      const show = (await cli(['show', request.id], lead)).stdout.toString();
      expect(show).toContain('\\u001b[2K');
      expect(show).toMatch(/reason: .*\\u001b/);
    } finally {
      await cli(['deny', request.id, '--comment', 'red team'], lead);
      await held;
    }
  });
});

// R7-7: a policy file in a hidden directory of the policy directory.
describe('R7-7: opa compiles exactly the files the revision and the decision cache key are made of', () => {
  let t: TestGateway;
  let dir: string;

  beforeAll(async () => {
    dir = regoPoliciesWith('package gatehouse\n');
    mkdirSync(join(dir, '.drafts'));
    writeFileSync(
      join(dir, '.drafts', 'blocked.rego'),
      'package gatehouse\n\ndeny contains {"id": "rt7-hidden", "reason": "blocked by a hidden file"} if input.session.application_name == "rt7-hidden-tool"\n',
    );
    t = await startTestGateway({ engine: 'rego', policiesDir: dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a rule in a hidden file does not decide (its reads are not in the key, its text not in the revision)', async () => {
    const first = await t.client(await t.token('rt7-hidden-a', ['agents']), { application_name: 'rt7-hidden-tool' });
    const second = await t.client(await t.token('rt7-hidden-b', ['agents']), { application_name: 'psql' });
    const third = await t.client(await t.token('rt7-hidden-c', ['agents']), { application_name: 'rt7-hidden-tool' });
    const sql = 'SELECT id FROM clinical.visits WHERE id = 3';
    // The same answer whether or not the verdict comes from the cache: before the fix, the first
    // was denied by the hidden rule and the third allowed from the cache.
    expect((await probe(first, sql)).code).toBeNull();
    expect((await probe(second, sql)).code).toBeNull();
    expect((await probe(third, sql)).code).toBeNull();
  });
});

describe('R7-7: a linked policy file is read like the compiler reads it', () => {
  let t: TestGateway;
  let dir: string;
  let shared: string;

  beforeAll(async () => {
    shared = mkdtempSync(join(tmpdir(), 'gatehouse-rt7-shared-'));
    writeFileSync(
      join(shared, 'blocked.rego'),
      'package gatehouse\n\ndeny contains {"id": "rt7-linked", "reason": "blocked by a linked file"} if input.session.application_name == "rt7-linked-tool"\n',
    );
    dir = regoPoliciesWith('package gatehouse\n');
    symlinkSync(join(shared, 'blocked.rego'), join(dir, 'blocked.rego'));
    t = await startTestGateway({ engine: 'rego', policiesDir: dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
  });

  it("the linked rule's reads are in the key: a blocked application_name is not given another session's allow", async () => {
    const allowed = await t.client(await t.token('rt7-linked-a', ['agents']), { application_name: 'psql' });
    const blocked = await t.client(await t.token('rt7-linked-b', ['agents']), { application_name: 'rt7-linked-tool' });
    const sql = 'SELECT id FROM clinical.visits WHERE id = 4';
    expect((await probe(allowed, sql)).code).toBeNull();
    const outcome = await probe(blocked, sql);
    expect(outcome.code).toBe('42501');
    expect(outcome.message).toContain('blocked by a linked file');
  });
});

// Cedar: a policy naming a context attribute through a string escape. cedarInputReads looks for the
// attribute's name in the policy texts, which the Cedar parser gives back normalized (escapes
// resolved, context.session_user): resisted.
describe('decision cache (Cedar): a session attribute read through a string escape is in the key (regression)', () => {
  let t: TestGateway;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-rt7-cedar-'));
    cpSync(join(REPO_ROOT, 'policies', 'cedar'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'rt7.cedar'),
      `@id("rt7-escaped-app")
@reason("this application is blocked")
forbid (principal, action, resource)
when { context["session\\u{5f}user"] == "rt7-escaped-user" };
`,
    );
    t = await startTestGateway({ engine: 'cedar', policiesDir: dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a blocked startup user name is not given another session's allow", async () => {
    const allowed = await t.client(await t.token('rt7-cedar-a', ['agents']), { user: 'agent' });
    const blocked = await t.client(await t.token('rt7-cedar-b', ['agents']), { user: 'rt7-escaped-user' });
    const sql = 'SELECT id FROM clinical.visits WHERE id = 5';
    expect((await probe(allowed, sql)).code).toBeNull();
    const outcome = await probe(blocked, sql);
    expect(outcome.code).toBe('42501');
    expect(outcome.message).toContain('this application is blocked');
  });
});

// R7-8: a log cut while no gateway writes it, then written again by a restarted gateway.
describe('R7-8: records cut from a stopped gateway\'s log stay missing for `gatehouse audit verify`', () => {
  it('a restarted gateway does not sign a chain without the cut records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rt7-cut-'));
    const keyDir = join(dir, 'keys');
    const auditFile = join(dir, 'audit.ndjson');
    try {
      expect((await runGatehouse(['audit', 'keygen', '--out', keyDir])).code).toBe(0);
      const audit = { signing_key: join(keyDir, 'audit-signing.key'), checkpoint_interval_s: 3600 };
      const first = await startTestGateway({ auditFile, audit });
      const agent = await first.client(await first.token('rt7-cut', ['agents']));
      for (const id of [1, 2, 3]) await agent.query(`SELECT id FROM clinical.visits WHERE id = ${id}`);
      await first.close(); // writes the shutdown checkpoint, and the chain state beside the log
      const lines = readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '');
      const firstStatement = lines.findIndex((l) => (JSON.parse(l) as { type: string }).type === 'statement');
      expect(firstStatement).toBeGreaterThan(0);
      // Someone removes every record from the first statement on, the checkpoint included.
      writeFileSync(auditFile, `${lines.slice(0, firstStatement).join('\n')}\n`);
      const errors: string[] = [];
      const second = await startTestGateway({ auditFile, audit, onError: (m) => errors.push(m) });
      const again = await second.client(await second.token('rt7-cut', ['agents']));
      await again.query('SELECT id FROM clinical.visits WHERE id = 4');
      await second.close();
      const verify = await runGatehouse(['audit', 'verify', '--json', '--key', join(keyDir, 'audit-signing.pub.pem'), auditFile]);
      expect(verify.code, verify.stdout.toString()).toBe(1);
      expect(verify.stdout.toString()).toContain('deleted');
      expect(errors.join('\n')).toContain('records were removed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('decision cache: verdicts are not shared across identities or search paths (regression)', () => {
  const rt = useRedTeam('rego', 'rt7-agent', {
    setupSql: `DROP TABLE IF EXISTS public.patients; CREATE TABLE public.patients AS SELECT g AS id, 'not-an-ssn-' || g AS ssn FROM generate_series(1, 5) g;`,
    cleanupSql: 'DROP TABLE IF EXISTS public.patients',
  });

  it('breakglass first, then an agent: the agent still gets masked values', async () => {
    const breakglass = await rt.gateway.client(await rt.gateway.token('rt7-bg', ['breakglass']));
    const agent = await rt.agent();
    const sql = 'SELECT id, ssn FROM clinical.patients WHERE id = 2';
    const raw = await probe(breakglass, sql);
    expect(raw.code).toBeNull();
    expect(rt.leaks(raw.rows)).toBe(true);
    const masked = await probe(agent, sql);
    expect(masked.code).toBeNull();
    expect(masked.rows.length).toBe(1);
    expect(rt.leaks(masked.rows)).toBe(false);
  });

  it('an agent in breakglass too (more groups) is decided on its own, and an agent with fewer is not given its verdict', async () => {
    const both = await rt.gateway.client(await rt.gateway.token('rt7-both', ['agents', 'breakglass']));
    const agent = await rt.agent();
    const sql = 'SELECT ssn FROM clinical.patients WHERE id = 3';
    const wide = await probe(both, sql);
    expect(wide.code).toBeNull();
    const narrow = await probe(agent, sql);
    expect(narrow.code).toBeNull();
    expect(rt.leaks(narrow.rows)).toBe(false);
  });

  it('the same text under another search_path is decided for the table it names there', async () => {
    const a = await rt.agent();
    const b = await rt.agent();
    const sql = 'SELECT id, ssn FROM patients WHERE id = 4';
    await probe(a, sql); // public.patients: whatever the policy says about it
    await b.query('SET search_path = clinical, public');
    const outcome = await probe(b, sql);
    expect(rt.leaks(outcome)).toBe(false);
    if (outcome.code === null) expect(outcome.rows.length).toBe(1);
  });

  it('the same text with other literals, comments, casing or quoting never carries a raw value', async () => {
    const agent = await rt.agent();
    const variants = [
      'SELECT id, ssn FROM clinical.patients WHERE id = 5',
      'SELECT id, ssn FROM clinical.patients WHERE id = 6 -- breakglass',
      'select ID, SSN from CLINICAL.PATIENTS where ID = 7',
      'SELECT id, "ssn" FROM "clinical"."patients" WHERE id = 8',
      'SELECT id, U&"\\0073sn" FROM clinical.patients WHERE id = 9',
      'SELECT id, ssn FROM /* clinical.visits */ clinical.patients WHERE id = 10',
    ];
    for (const sql of variants) {
      const outcome = await probe(agent, sql);
      expect(rt.leaks(outcome), sql).toBe(false);
    }
  });
});

describe('audit evidence: no literal reaches the log (R7-2, R7-3)', () => {
  const rt = useRedTeam('rego', 'rt7-auditor');
  let ssn: string;

  beforeAll(() => {
    ssn = rt.ssns.find((s) => !s.startsWith('0')) ?? rt.ssns[0]!;
  });

  const auditText = (): string => auditTextOf(rt.gateway.auditFile);

  /** Runs `sql` as an agent and waits for its outcome record; returns what the audit log gained meanwhile. */
  const runAndRead = async (sql: string, values?: unknown[]): Promise<string> => {
    const agent = await rt.agent();
    const before = rt.gateway.audit().filter((r) => r.type === 'outcome').length;
    const from = auditText().length;
    await probe(agent, sql, values);
    await rt.gateway.auditUntil((records) => records.filter((r) => r.type === 'outcome').length > before);
    const added = auditText().slice(from);
    expect(added).toContain('"type":"statement"');
    return added;
  };

  it.each([
    ['SQL EXECUTE with a literal argument', (s: string) => `EXECUTE rt7_missing('${s}')`],
    ['PREPARE with a literal in WHERE', (s: string) => `PREPARE rt7_p AS SELECT id FROM clinical.patients WHERE ssn = '${s}'`],
    ['CREATE TEMP TABLE AS with a literal in WHERE', (s: string) => `CREATE TEMP TABLE rt7_t AS SELECT id FROM clinical.patients WHERE ssn = '${s}'`],
    ['CREATE VIEW with a literal', (s: string) => `CREATE TEMP VIEW rt7_v AS SELECT id FROM clinical.patients WHERE ssn = '${s}'`],
    ['COPY TO PROGRAM', (s: string) => `COPY (SELECT 1) TO PROGRAM 'echo ${s}'`],
    ['COMMENT ON', (s: string) => `COMMENT ON TABLE clinical.visits IS 'patient ${s}'`],
    ['ALTER TABLE ... DEFAULT', (s: string) => `ALTER TABLE clinical.visits ALTER COLUMN reason SET DEFAULT '${s}'`],
    ['EXPLAIN EXECUTE', (s: string) => `EXPLAIN EXECUTE rt7_missing('${s}')`],
    ['CREATE MATERIALIZED VIEW', (s: string) => `CREATE MATERIALIZED VIEW rt7_mv AS SELECT '${s}' AS x`],
    ['SET client_encoding (refused by the setting guard)', (s: string) => `SET client_encoding TO '${s}'`],
  ])('%s: the literal is not in the audit log', async (_name, sql) => {
    const log = await runAndRead(sql(ssn));
    expect(log.includes(ssn)).toBe(false);
  });

  it('set_config of client_encoding with the value bound as a parameter: not in the audit log', async () => {
    const log = await runAndRead("SELECT set_config('client_encoding', $1, false)", [ssn]);
    expect(log.includes(ssn)).toBe(false);
  });

  // R7-4: PostgreSQL echoes some values without double quotes, and only double-quoted parts of
  // outcome messages were blanked.
  it('R7-4: a value PostgreSQL echoes without quotes (make_date) is not in the outcome record', async () => {
    const [a, b, c] = ssn.split('-').map(Number);
    const log = await runAndRead(`SELECT make_date(${a}, ${b}, ${c})`);
    expect(log.includes(`${a}-${String(b).padStart(2, "0")}-${String(c).padStart(2, "0")}`)).toBe(false);
  });
});

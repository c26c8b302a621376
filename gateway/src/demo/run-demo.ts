// Runs the embedded demo: PGlite seeded with a synthetic clinic, dev keys and tokens, Gatehouse
// in front of it following a local git repository of the example policies, then either prints how
// to connect (and waits for Ctrl-C) or runs the self-check.
import { findOpaBinary, installOpa, OPA_VERSION } from '../policy/opa-binary.ts';
import { readPolicyFiles } from '../policy/policy-files.ts';
import { findPrebuiltModule, findRecordedOpaTest } from '../policy/prebuilt-rego.ts';
import { regoModuleName } from '../policy/rego-engine.ts';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineKind } from '../policy/types.ts';
import { ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import { startGateway } from '../server.ts';
import type { RunningGateway } from '../server.ts';
import type { AuditRecord } from '../audit/types.ts';
import { buildDemoConfig } from './demo-config.ts';
import { ensureDemoPolicyRepo } from './demo-policy-repo.ts';
import type { DemoPolicyRepo } from './demo-policy-repo.ts';
import { PATIENT_IDENTIFIERS, PATIENT_LIST, SUGGESTED_QUERIES } from './demo-queries.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import type { EmbeddedPostgres } from './embedded-postgres.ts';
import { runSelfCheck } from './self-check.ts';
import { dataEnd, isUnusedTail } from '../audit/unused-tail.ts';

export interface DemoOptions {
  host: string;
  /** Gatehouse's port; null means 6432, or any free port for --self-check. */
  port: number | null;
  engine: EngineKind;
  /** A policy directory served as it is; null follows the demo's git repository of the example policies. */
  policiesDir: string | null;
  /** The admin listener's port (policy status and refresh); null means 6433, or any free port for --self-check. */
  adminPort?: number | null;
  stateDir: string;
  fresh: boolean;
  selfCheck: boolean;
  patients: number;
  print: (line: string) => void;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_PORT = 6432;
const DEFAULT_ADMIN_PORT = 6433;
const TOKEN_TTL_SECONDS = 12 * 60 * 60;

export async function runDemo(options: DemoOptions): Promise<number> {
  const { print } = options;
  const started = Date.now();
  const step = (message: string): void => print(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}`);

  if (options.policiesDir !== null && !(await isDirectory(options.policiesDir))) {
    print(`gatehouse demo: policy directory ${options.policiesDir} does not exist`);
    return 1;
  }

  let database: EmbeddedPostgres | null = null;
  let gateway: RunningGateway | null = null;
  const shutdown = async (): Promise<void> => {
    await gateway?.close().catch((e: unknown) => print(`gateway close failed: ${String(e)}`));
    gateway = null;
    await database?.close();
    database = null;
  };

  try {
    // The self-check may run DROP TABLE (it should be denied, but it must not cost the user their
    // demo data if a policy is broken), so it always uses a throwaway in-memory database.
    database = await startEmbeddedPostgres({
      dataDir: options.selfCheck ? null : path.join(options.stateDir, 'demo-pgdata'),
      fresh: options.fresh,
      patientCount: options.patients,
      onProgress: step,
    });
    const raw = new Map<string, Record<string, unknown>[]>();
    for (const sql of [PATIENT_LIST, PATIENT_IDENTIFIERS]) {
      raw.set(sql, (await database.db.query<Record<string, unknown>>(sql)).rows);
    }

    step('preparing development signing keys and tokens (NOT FOR PRODUCTION)...');
    const keyDir = path.join(options.stateDir, 'dev-keys');
    const keys = await ensureDevKeys(keyDir);
    const agentToken = await mintDevToken({ keyDir, subject: 'demo-agent', groups: ['agents'], ttlSeconds: TOKEN_TTL_SECONDS });
    const breakglassToken = await mintDevToken({ keyDir, subject: 'demo-oncall', groups: ['breakglass'], ttlSeconds: TOKEN_TTL_SECONDS });
    // Answers the agents' held writes to clinical.patients (docs/approvals.md).
    const approverToken = await mintDevToken({ keyDir, subject: 'demo-lead', groups: ['clinical-leads'], ttlSeconds: TOKEN_TTL_SECONDS });

    let repo: DemoPolicyRepo | null = null;
    if (options.policiesDir === null) {
      step(`preparing the demo policy repository ${shortPath(path.join(options.stateDir, 'demo-policy-repo'))} (git)...`);
      repo = await ensureDemoPolicyRepo(path.join(options.stateDir, 'demo-policy-repo'), REPO_ROOT);
      step(`policy repository ${describeRepoChange(repo)}; main is at ${repo.commit.slice(0, 12)} "${repo.subject}"`);
    }
    if (options.engine === 'rego') {
      await ensureOpaForDemo(options.policiesDir ?? path.join(options.stateDir, 'demo-policy-repo', 'policies', 'rego'), step);
    }

    const auditFile = path.join(options.stateDir, options.selfCheck ? 'demo-self-check-audit.ndjson' : 'demo-audit.ndjson');
    const auditOffset = await fileSize(auditFile);
    const config = buildDemoConfig({
      host: options.host,
      port: options.port ?? (options.selfCheck ? 0 : DEFAULT_PORT),
      adminPort: options.adminPort ?? (options.selfCheck ? 0 : DEFAULT_ADMIN_PORT),
      upstreamUrl: database.url,
      engine: options.engine,
      policies:
        repo === null
          ? { type: 'directory', dir: options.policiesDir ?? '' }
          : { type: 'git', repoDir: repo.dir, workDir: path.join(options.stateDir, 'demo-policy-work') },
      auditFile,
      keys,
      baseDir: process.cwd(),
    });
    step(
      repo === null
        ? `starting Gatehouse (${options.engine} policies from the directory ${shortPath(options.policiesDir ?? '')})...`
        : `starting Gatehouse (${options.engine} policies from git: ${shortPath(repo.dir)}, branch main; checking out, compiling and testing the commit)...`,
    );
    try {
      // PGlite serves every connection from one backend session: a LISTEN there would be the clients' too.
      gateway = await startGateway(config, { onInfo: (message) => step(`gatehouse: ${message}`), catalog: { peers: false } });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'EADDRINUSE') {
        const admin = config.admin === null ? '' : ` or admin port ${config.admin.port}`;
        print(`gatehouse demo: ${options.host}:${config.listen.port}${admin} is already in use; pick others with --port <n> and --admin-port <n>`);
        await shutdown();
        return 1;
      }
      throw error;
    }
    step(`ready: Gatehouse on ${gateway.host}:${gateway.port} -> PGlite on ${database.host}:${database.port}`);
    step(`active policy: ${describeActive(gateway)}`);

    if (options.selfCheck) {
      const checked = await runSelfCheck({ host: gateway.host, port: gateway.port, agentToken, breakglassToken, raw, print });
      const visits = await database.db.query<{ present: boolean }>(`SELECT to_regclass('clinical.visits') IS NOT NULL AS present`);
      const intact = visits.rows[0]?.present === true;
      print(intact ? 'clinical.visits is still there' : 'FAIL  clinical.visits was dropped');
      print(`audit records: ${auditFile}`);
      const stamped = repo === null ? true : await auditCarriesCommit(auditFile, auditOffset, gateway.engine().revision, print);
      const ok = checked && intact && stamped;
      print(ok ? 'self-check passed' : 'self-check FAILED');
      await shutdown();
      return ok ? 0 : 1;
    }

    printInstructions(print, gateway, agentToken, breakglassToken, auditFile, repo, approverToken);
    const running = gateway;
    await waitForSignal(print, () => {
      const refresh = running.refreshPolicies('signal');
      if (refresh === null) {
        print('SIGHUP: policies come from a directory; restart the demo to load changes');
        return;
      }
      print('SIGHUP: refreshing policies from the repository...');
      void refresh.then(
        (result) => print(`policy refresh: ${result.outcome}${'commit' in result ? ` ${result.commit.slice(0, 12)}` : ''}${'reason' in result ? `: ${result.reason}` : ''}; active: ${describeActive(running)}`),
        (e: unknown) => print(`policy refresh failed: ${e instanceof Error ? e.message : String(e)}`),
      );
    });
    print('shutting down...');
    await shutdown();
    print('stopped.');
    return 0;
  } catch (error) {
    print(`gatehouse demo failed: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown();
    return 1;
  }
}

function printInstructions(
  print: (line: string) => void,
  gateway: RunningGateway,
  agentToken: string,
  breakglassToken: string,
  auditFile: string,
  repo: DemoPolicyRepo | null,
  approverToken: string,
): void {
  const psql = (user: string, token: string): string =>
    `PGPASSWORD=${token} psql "host=${gateway.host} port=${gateway.port} dbname=postgres user=${user} sslmode=disable"`;
  const lines = [
    '',
    'Gatehouse demo is running. Connect as an AI agent (group "agents"; the user name is free text,',
    'the identity comes from the token):',
    '',
    `  ${psql('agent', agentToken)}`,
    '',
    'Then try:',
    ...SUGGESTED_QUERIES.map((q) => `  ${`${q.sql};`.padEnd(72)} -- ${q.why}`),
    '',
    'The same queries as on-call staff (group "breakglass": unmasked):',
    '',
    `  ${psql('oncall', breakglassToken)}`,
    '',
    ...approvalHelp(gateway, approverToken),
    `Every statement is audited to ${auditFile} (NDJSON), with the policy commit that decided it.`,
    ...(repo === null ? [] : policyChangeHelp(gateway, repo)),
    'Demo caveats: the tokens are development tokens signed by a local key (valid 12 hours); the',
    'embedded PostgreSQL (PGlite) has no authentication and all connections share ONE backend',
    'session, so a transaction left open in one psql blocks the others.',
    '',
    'Press Ctrl-C to stop.',
  ];
  for (const line of lines) print(line);
}

/** The agents' writes to clinical.patients wait for a clinical lead: where and as whom to answer. */
function approvalHelp(gateway: RunningGateway, approverToken: string): string[] {
  if (gateway.adminPort === null) return [];
  const admin = `http://${gateway.host}:${gateway.adminPort}`;
  return [
    "An agent's write to clinical.patients waits for a clinical lead, e.g. as the agent:",
    "  UPDATE clinical.patients SET phone = '555-0100' WHERE id = 1;   -- held: psql prints the request id",
    `Answer it at ${admin}/approvals, signing in with this approver token (group "clinical-leads"):`,
    `  ${approverToken}`,
    `or: GATEHOUSE_ADMIN_URL=${admin} GATEHOUSE_TOKEN=<that token> npx --no gatehouse approvals list`,
    '',
  ];
}

function policyChangeHelp(gateway: RunningGateway, repo: DemoPolicyRepo): string[] {
  const admin = gateway.adminPort === null ? null : `http://${gateway.host}:${gateway.adminPort}`;
  return [
    '',
    `Policies come from the git repository ${shortPath(repo.dir)} (branch main); active: ${describeActive(gateway)}.`,
    'To change a policy and see it go live: edit a file under policies/ there, commit, then trigger a refresh:',
    `  cd ${shortPath(repo.dir)} && $EDITOR policies/${gateway.engine().kind}/clinical.${gateway.engine().kind} && git commit -am "Try a change"`,
    ...(admin === null ? [] : [`  curl -X POST ${admin}/policy/refresh    # as a webhook would (status: curl ${admin}/policy/status)`]),
    `  kill -HUP ${process.pid}    # or the same by signal`,
    'The commit is checked out, compiled and tested before it decides anything; a commit that fails',
    'is refused and the previous one keeps serving (the refusal is printed here).',
  ];
}

function describeActive(gateway: RunningGateway): string {
  const active = gateway.policyStatus()?.active ?? null;
  if (active === null) return `${gateway.engine().kind} revision ${gateway.engine().revision}`;
  return `${gateway.engine().kind} at commit ${active.commit.slice(0, 12)} "${active.subject}"`;
}

function describeRepoChange(repo: DemoPolicyRepo): string {
  switch (repo.change) {
    case 'created':
      return 'created with the example policies';
    case 'updated':
      return "updated: the project's policies changed and were committed";
    case 'unchanged':
      return 'reused';
    case 'kept-local-edits':
      return "reused; it has uncommitted edits, so the project's changed policies were NOT copied in";
    default: {
      const never: never = repo.change;
      return String(never);
    }
  }
}

/** The self-check's proof that the git path ran: every statement record of this run names the active commit. */
async function auditCarriesCommit(file: string, offset: number, commit: string, print: (line: string) => void): Promise<boolean> {
  const text = (await readFile(file)).subarray(offset).toString('utf8');
  const revisions = text
    .split('\n')
    .filter((line) => line.trim() !== '' && !isUnusedTail(line)) // the live log's preallocated zeros
    .map((line) => JSON.parse(line) as AuditRecord)
    .flatMap((r) => (r.type === 'statement' && r.input !== null ? [r.revision] : []));
  const ok = revisions.length > 0 && revisions.every((r) => r === commit);
  print(ok ? `audit: ${revisions.length} statement records name commit ${commit.slice(0, 12)}` : `FAIL  audit records do not all name commit ${commit}: ${[...new Set(revisions)].join(', ')}`);
  return ok;
}

/** Where the records of the live log end (its preallocated zero tail is no record). */
async function fileSize(file: string): Promise<number> {
  try {
    const size = (await stat(file)).size;
    return size === 0 ? 0 : dataEnd(file, size);
  } catch {
    return 0;
  }
}

/** Relative to the working directory when inside it, absolute otherwise. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}

function waitForSignal(print: (line: string) => void, onHangup: () => void): Promise<void> {
  return new Promise((resolve) => {
    process.on('SIGHUP', onHangup);
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        print(`second ${signal}: exiting immediately`);
        process.exit(130);
      }
      received = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The Rego engine compiles with the OPA CLI, except for the shipped example policies, which come
 * precompiled (gateway/prebuilt/, checked by content hash). Other Rego sources need the pinned
 * OPA: found when installed, otherwise built once with go install, with progress.
 */
async function ensureOpaForDemo(regoDir: string, step: (message: string) => void): Promise<void> {
  try {
    process.env['GATEHOUSE_OPA'] = await findOpaBinary();
    return;
  } catch {
    // Not installed: fine as long as the policies are the shipped ones.
  }
  if (await shippedRegoPolicies(regoDir)) {
    step(`no OPA CLI needed: ${shortPath(regoDir)} matches the precompiled example policies (gateway/prebuilt/)`);
    step('  changing Rego policies needs the OPA CLI: bash scripts/ensure-opa.sh (builds it once with go install)');
    return;
  }
  step(`${shortPath(regoDir)} differs from the precompiled example policies, so the Rego engine needs the OPA CLI ${OPA_VERSION}`);
  process.env['GATEHOUSE_OPA'] = await installOpa((line) => step(line));
  step(`OPA CLI ready: ${process.env['GATEHOUSE_OPA']}`);
}

/** Whether dir's Rego sources and tests are exactly those of a committed precompiled module. */
async function shippedRegoPolicies(dir: string): Promise<boolean> {
  try {
    const files = await readPolicyFiles(dir, 'rego');
    return files.length > 0 && (await findPrebuiltModule(regoModuleName(files))) !== null && (await findRecordedOpaTest(dir, dir)) !== null;
  } catch {
    return false;
  }
}

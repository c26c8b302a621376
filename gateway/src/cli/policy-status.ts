// `gatehouse policy status`: which policy commit is active, what was last refused and what is
// followed; asks the running gateway's admin listener, else reads the status.json it wrote.

import type { GatehouseConfig } from '../config/types.ts';
import type { PolicyStatus } from '../policy/repo/status.ts';
import { parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse policy status [options]

Shows the policy commit Gatehouse is deciding with (policies.git): the active commit and
its subject line, the last commit refused and why, the branch or pin followed, and when
the repository was last checked. Asks the running gateway (admin listener) when the
configuration has one and it answers; otherwise reads <work_dir>/status.json, which the
gateway rewrites at every change.

Options:
  -c, --config <file>     configuration file (default $GATEHOUSE_CONFIG, else ./gatehouse.yaml)
  --json                  print the status document as JSON
  -h, --help              show this help

Exit status: 0 when a commit is active, 1 when none is (or no status is available),
2 for a command-line mistake.

Examples:
  gatehouse policy status -c /etc/gatehouse/gatehouse.yaml
  gatehouse policy status --json | jq .active.commit
`;

/** How long the running gateway gets to answer before status.json is read instead. */
const ADMIN_TIMEOUT_MS = 2000;

export const policyStatusCommand: CliCommand = {
  name: 'status',
  summary: 'Show the active policy commit and the last refusal',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const file = values.config ?? process.env['GATEHOUSE_CONFIG'] ?? 'gatehouse.yaml';
    const { loadConfig } = await import('../config/load.ts');
    const config = await loadConfig(file);

    const git = config.policies.git;
    if (git === null) {
      const { directoryRevision } = await import('../policy/load.ts');
      const revision = await directoryRevision(config.policies.engine, config.policies.directory);
      const doc = { engine: config.policies.engine, source: { directory: config.policies.directory }, active: { commit: revision }, following: null };
      process.stdout.write(
        values.json === true
          ? `${JSON.stringify(doc, null, 2)}\n`
          : `policies: ${config.policies.engine} from the directory ${config.policies.directory} (not git)\n  revision      ${revision}\n`,
      );
      return 0;
    }

    const fromAdmin = await askAdmin(config);
    let status: PolicyStatus | null = fromAdmin?.status ?? null;
    let origin = fromAdmin === null ? '' : `the running gateway at ${fromAdmin.url}`;
    if (status === null) {
      const { readStatusFile, STATUS_FILE } = await import('../policy/repo/status.ts');
      status = await readStatusFile(git.workDir);
      origin = `${git.workDir}/${STATUS_FILE}${config.admin === null ? '' : ' (the admin listener did not answer)'}`;
    }
    if (status === null) {
      process.stderr.write(`gatehouse policy status: no status yet: no gateway has used ${git.workDir}\n`);
      return 1;
    }
    process.stdout.write(values.json === true ? `${JSON.stringify(status, null, 2)}\n` : render(status, origin));
    return status.active === null ? 1 : 0;
  },
};

export default policyStatusCommand;

async function askAdmin(config: GatehouseConfig): Promise<{ status: PolicyStatus; url: string } | null> {
  if (config.admin === null) return null;
  const host = config.admin.host === '0.0.0.0' ? '127.0.0.1' : config.admin.host === '::' ? '::1' : config.admin.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.admin.port}/policy/status`;
  try {
    const token = config.admin.reads.token;
    const res = await fetch(url, {
      signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
      ...(token !== null ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    if (!res.ok) return null;
    return { status: (await res.json()) as PolicyStatus, url };
  } catch {
    return null;
  }
}

function render(s: PolicyStatus, origin: string): string {
  const following = 'pin' in s.following ? `pin ${s.following.pin} (not following a branch)` : `branch ${s.following.branch}`;
  const lines = [
    `policy status (from ${origin})`,
    `  engine        ${s.engine}`,
    `  repository    ${s.source.url}  (policies ${s.source.path}/, tests ${s.source.tests === null ? 'none' : `${s.source.tests}/`})`,
    `  following     ${following}`,
    `  active        ${s.active === null ? 'none: no statement is served' : `${s.active.commit}  "${s.active.subject}"  since ${s.active.activated_at}`}`,
    `  last refused  ${s.last_refused === null ? 'none' : `${s.last_refused.commit}  at ${s.last_refused.at}`}`,
  ];
  if (s.last_refused !== null) lines.push(`                ${s.last_refused.reason}`);
  if (s.last_error !== null) lines.push(`  last error    ${s.last_error.at}: ${s.last_error.reason}`);
  lines.push(`  last checked  ${s.last_checked_at ?? 'never'}`, '');
  return lines.join('\n');
}

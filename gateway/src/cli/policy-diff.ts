// `gatehouse policy diff`: which decisions change between two commits of a policy repository, over the
// policy-test cases of both commits and, optionally, the statements recorded in audit logs.

import { existsSync } from 'node:fs';
import type { EngineKind } from '../policy/types.ts';
import { UsageError, parseOptions, usageErrorText } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse policy diff --base <ref> --head <ref> [options]

Shows which decisions a policy change makes differently. Checks out both commits of the
policy repository, loads each engine's policies at each commit (Rego compiled with opa,
Cedar validated), and evaluates the same inputs under both:
  - every case in the policy-tests/ of BOTH commits (SQL through PostgreSQL's parser, as
    live traffic), each distinct input once;
  - with --audit, the policy input of every statement record in those NDJSON audit logs
    (identical inputs counted, not repeated).
Lists exactly the inputs whose action, deciding policies or masks changed, then a summary
line: N inputs evaluated, M changed. Progress goes to standard error.

Exit status: 0 (also when decisions changed, unless --fail-on-change), 1 when decisions
changed and --fail-on-change is given or a commit's policies do not load, 2 on a usage
error, a ref that does not resolve or a repository that cannot be read.

Options:
  --base <ref>                 the commit before the change (branch, tag or hash)
  --head <ref>                 the commit after it
  --repo <dir|url>             the policy repository (default: the current directory);
                               a URL is mirrored under the cache directory
  --engine <rego|cedar|both>   engines to compare (default both: each whose policy
                               directory exists at both commits)
  --rego <path>                Rego policies inside the repository (default policies/rego)
  --cedar <path>               Cedar policies inside the repository (default policies/cedar)
  --cases <dir>                a case directory on disk, used instead of the commits'
                               policy-tests/
  --audit <file>               an NDJSON audit log; repeat for several
  --format <text|markdown|json>
                               output (default text; markdown is a PR comment's table)
  --fail-on-change             exit 1 when any decision changed
  --cache-dir <dir>            checkouts and the Rego build cache (default .gatehouse)
  --quiet                      no progress lines
  -h, --help                   show this help

Examples:
  gatehouse policy diff --base main --head HEAD
  gatehouse policy diff --base origin/main --head HEAD --audit /var/log/gatehouse/audit.ndjson \\
      --format markdown > policy-diff.md
  gatehouse policy diff --repo git@github.com:acme/policies.git --base v1.4.0 --head main \\
      --engine cedar --fail-on-change
`;

export const policyDiffCommand: CliCommand = {
  name: 'diff',
  summary: 'List the decisions that change between two commits (cases and audited statements)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      base: { type: 'string' },
      head: { type: 'string' },
      repo: { type: 'string', default: '.' },
      engine: { type: 'string', default: 'both' },
      rego: { type: 'string', default: 'policies/rego' },
      cedar: { type: 'string', default: 'policies/cedar' },
      cases: { type: 'string' },
      audit: { type: 'string', multiple: true, default: [] },
      format: { type: 'string', default: 'text' },
      'fail-on-change': { type: 'boolean', default: false },
      'cache-dir': { type: 'string', default: '.gatehouse' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.base === undefined || values.head === undefined) throw new UsageError('--base and --head are both required');
    const { DIFF_FORMATS, renderDiff, summaryLine } = await import('../policy/diff/render.ts');
    const format = DIFF_FORMATS.find((f) => f === values.format);
    if (format === undefined) throw new UsageError(`--format must be ${DIFF_FORMATS.join(', ')}, not '${values.format}'`);
    const engines = engineOption(values.engine);
    for (const file of values.audit) if (!existsSync(file)) throw new UsageError(`--audit ${file}: no such file`);
    if (values.cases !== undefined && !existsSync(values.cases)) throw new UsageError(`--cases ${values.cases}: no such directory`);

    const { DiffSourceError, PolicyLoadError, runPolicyDiff } = await import('../policy/diff/diff.ts');
    const progress = values.quiet ? undefined : (line: string) => process.stderr.write(`gatehouse policy diff: ${line}\n`);
    try {
      const report = await runPolicyDiff({
        repo: values.repo,
        base: values.base,
        head: values.head,
        engines,
        policyPaths: { rego: values.rego, cedar: values.cedar },
        ...(values.cases === undefined ? {} : { casesDir: values.cases }),
        casesPath: 'policy-tests',
        auditFiles: values.audit,
        cacheDir: values['cache-dir'],
        ...(progress === undefined ? {} : { onProgress: progress }),
      });
      process.stdout.write(renderDiff(report, format));
      // JSON on standard output stays one document; the summary line goes to standard error.
      if (format === 'json') process.stderr.write(`${summaryLine(report)}\n`);
      return values['fail-on-change'] && report.counts.changed > 0 ? 1 : 0;
    } catch (e) {
      if (e instanceof DiffSourceError) {
        process.stderr.write(usageErrorText('policy diff', e.message));
        return 2;
      }
      if (e instanceof PolicyLoadError) {
        process.stderr.write(`gatehouse policy diff: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};

function engineOption(value: string): EngineKind[] | 'available' {
  switch (value) {
    case 'both':
      return 'available';
    case 'rego':
    case 'cedar':
      return [value];
    default:
      throw new UsageError(`--engine must be rego, cedar or both, not '${value}'`);
  }
}

export default policyDiffCommand;

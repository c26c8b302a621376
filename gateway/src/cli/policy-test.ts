// `gatehouse policy test`: runs a policy repository's tests (opa test, Cedar validation, the data-driven
// cases against both engines) and reports them as text, JUnit XML and GitHub annotations.

import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { formatGithubAnnotations } from '../policy/testing/report-github.ts';
import { formatJunitReport } from '../policy/testing/report-junit.ts';
import { formatTextReport } from '../policy/testing/report-text.ts';
import { runPolicyTests } from '../policy/testing/run.ts';
import type { EngineKind } from '../policy/types.ts';
import { parseOptionsAndPositionals, UsageError } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse policy test [DIR] [options]

Tests the policy repository in DIR (default: the current directory) the way Gatehouse will
run it: \`opa test\` on policies/rego (its *_test.rego files), compilation to WebAssembly,
strict validation of policies/cedar against the Cedar schema, then every case in
policy-tests/*.yaml against each engine (the SQL goes through PostgreSQL's parser, as live
traffic does), and a check that both engines decide each case alike.
Progress goes to standard error, the summary to standard output.
Exit status: 0 when everything passes, 1 when anything fails, 2 on a usage error.

Options:
  --engine <rego|cedar|both>  engines to test (default: each one whose directory exists)
  --rego <dir>                Rego policies (default DIR/policies/rego)
  --cedar <dir>               Cedar policies (default DIR/policies/cedar)
  --cases <dir>               case files (default DIR/policy-tests)
  --junit <file>              also write a JUnit XML report to <file>
  --github                    also print GitHub Actions annotations (on by default when
                              GITHUB_ACTIONS=true)
  --quiet                     no progress lines on standard error
  -h, --help                  show this help

The opa CLI is found as for serving: $GATEHOUSE_OPA, $PATH, then $(go env GOPATH)/bin/opa.
Case format: docs/policy-testing.md and schemas/policy-test.schema.json.

Examples:
  gatehouse policy test
  gatehouse policy test ./security-policies --engine cedar
  gatehouse policy test --junit policy-test-results.xml
`;

export const policyTestCommand: CliCommand = {
  name: 'test',
  summary: 'Run the policy tests and cases against Rego and Cedar',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptionsAndPositionals(argv, {
      engine: { type: 'string' },
      rego: { type: 'string' },
      cedar: { type: 'string' },
      cases: { type: 'string' },
      junit: { type: 'string' },
      github: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`expected at most one directory, got ${positionals.length}: ${positionals.join(' ')}`);
    const root = resolve(positionals[0] ?? '.');
    if (!(await isDirectory(root))) throw new UsageError(`${root} is not a directory`);
    const engines = engineOption(values.engine);
    const dirOption = async (name: string, value: string | undefined): Promise<string | undefined> => {
      if (value === undefined) return undefined;
      const path = resolve(value);
      if (!(await isDirectory(path))) throw new UsageError(`--${name}: ${path} is not a directory`);
      return path;
    };
    const regoDir = await dirOption('rego', values.rego);
    const cedarDir = await dirOption('cedar', values.cedar);
    const casesDir = await dirOption('cases', values.cases);
    const github = values.github === true || process.env['GITHUB_ACTIONS'] === 'true';
    const progress = values.quiet === true ? undefined : (line: string) => process.stderr.write(`gatehouse policy test: ${line}\n`);

    const buildDir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-test-'));
    try {
      const report = await runPolicyTests({
        root,
        buildDir,
        ...(engines === undefined ? {} : { engines }),
        ...(regoDir === undefined ? {} : { regoDir }),
        ...(cedarDir === undefined ? {} : { cedarDir }),
        ...(casesDir === undefined ? {} : { casesDir }),
        ...(progress === undefined ? {} : { onProgress: progress }),
      });
      process.stdout.write(formatTextReport(report));
      if (github) process.stdout.write(formatGithubAnnotations(report));
      if (values.junit !== undefined) {
        const file = resolve(values.junit);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, formatJunitReport(report));
        progress?.(`wrote JUnit report ${file}`);
      }
      return report.ok ? 0 : 1;
    } finally {
      await rm(buildDir, { recursive: true, force: true });
    }
  },
};

function engineOption(value: string | undefined): EngineKind[] | undefined {
  switch (value) {
    case undefined:
      return undefined;
    case 'rego':
    case 'cedar':
      return [value];
    case 'both':
      return ['rego', 'cedar'];
    default:
      throw new UsageError(`--engine must be rego, cedar or both, not '${value}'`);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export default policyTestCommand;

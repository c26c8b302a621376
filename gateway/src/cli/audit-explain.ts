// `gatehouse audit explain`: re-evaluates one recorded decision under the policy commit it names.

import { AUDIT_TABLE_OPTIONS, parseOptionsAndPositionals, UsageError } from './args.ts';
import { auditSourceOf, readingSource } from './audit-source.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit explain DECISION_ID --audit <file> [--audit <file>...] [options]
       gatehouse audit explain DECISION_ID --postgres <url> [--postgres-table <t>] [--instance <id>]... [options]

Reproduces a decision: finds the statement record with DECISION_ID in the audit logs (or in
the audit table of sink postgres, whichever instance wrote it), checks
out the policy commit the record names (its revision) from the policy repository, loads the
engine the record names at that commit (Rego compiled with opa, Cedar validated), evaluates
the recorded policy input again, and prints both decisions side by side: action, deciding
policies, masks and reason. Recorded statement text has its literals replaced by $n, and so
has the input's text: a policy that reads literals out of the text is evaluated on that.

Options:
  --audit <file>     an NDJSON audit log to search; repeat for rotated files
  --postgres <url>   search the audit table in this database instead (a libpq URL)
  --postgres-table <t>
                     the audit table, schema.table (default gatehouse.audit_log)
  --instance <id>    only this instance's records (repeatable; default: every instance)
  --repo <dir|url>   the policy repository (default: the current directory); a URL is
                     mirrored under the cache directory
  --rego <path>      Rego policies inside the repository (default policies/rego)
  --cedar <path>     Cedar policies inside the repository (default policies/cedar)
  --cache-dir <dir>  checkouts and the Rego build cache (default .gatehouse)
  --json             print the explanation as JSON
  -h, --help         show this help

Exit codes:
  0  the re-evaluated decision matches the record
  1  it does not (the record was altered, or the engine or its inputs changed meaning)
  2  usage error, no such decision, a decision not made by a policy commit (Gatehouse's
     own refusals, policies from a directory), or the commit is not in the repository

Example:
  gatehouse audit explain 0b6c1e0e-7f5e-4c43-9d0e-2a4f1f4c9a11 --repo ~/src/policies \\
      --audit /var/log/gatehouse/audit.ndjson --audit /var/log/gatehouse/audit.ndjson.1
  gatehouse audit explain 0b6c1e0e-7f5e-4c43-9d0e-2a4f1f4c9a11 --repo ~/src/policies \
      --postgres postgresql://auditor@db/audit
`;

export const auditExplainCommand: CliCommand = {
  name: 'explain',
  summary: 'Re-evaluate a recorded decision under the policy commit it names',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const parsed = parseOptionsAndPositionals(argv, {
      audit: { type: 'string', multiple: true, default: [] },
      ...AUDIT_TABLE_OPTIONS,
      repo: { type: 'string', default: '.' },
      rego: { type: 'string', default: 'policies/rego' },
      cedar: { type: 'string', default: 'policies/cedar' },
      'cache-dir': { type: 'string', default: '.gatehouse' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    const { values, positionals } = parsed;
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('exactly one DECISION_ID is required');
    const source = auditSourceOf(values, values.audit, '--audit FILE');
    const { ExplainError, explainDecision, formatExplanation } = await import('../audit/explain.ts');
    const { DiffSourceError, PolicyLoadError } = await import('../policy/diff/diff.ts');
    try {
      const explanation = await readingSource(() => explainDecision({
        decisionId: positionals[0]!,
        source,
        repo: values.repo,
        policyPaths: { rego: values.rego, cedar: values.cedar },
        cacheDir: values['cache-dir'],
        onProgress: (line) => process.stderr.write(`gatehouse audit explain: ${line}\n`),
      }));
      process.stdout.write(values.json ? `${JSON.stringify(explanation, null, 2)}\n` : formatExplanation(explanation));
      return explanation.mismatches.length === 0 ? 0 : 1;
    } catch (e) {
      if (e instanceof ExplainError || e instanceof DiffSourceError) throw new UsageError(e.message);
      if (e instanceof PolicyLoadError) {
        process.stderr.write(`gatehouse audit explain: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  },
};

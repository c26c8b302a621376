// `gatehouse policy <subcommand>`: dispatches to one module per subcommand (policy-<name>.ts), listed in
// POLICY_SUBCOMMANDS, and owns the verb's help and its usage errors.

import { UsageError, usageErrorText } from './args.ts';
import type { CliCommand } from './command.ts';
import { policyStatusCommand } from './policy-status.ts';
import { policyDiffCommand } from './policy-diff.ts';
import { policyTestCommand } from './policy-test.ts';

/** Every `gatehouse policy` subcommand, in the order help lists them. Add a subcommand with one line here. */
export const POLICY_SUBCOMMANDS: readonly CliCommand[] = [policyTestCommand, policyStatusCommand, policyDiffCommand];

function overview(): string {
  const width = Math.max(...POLICY_SUBCOMMANDS.map((c) => c.name.length));
  return [
    'Usage: gatehouse policy <subcommand> [options]',
    '',
    'Work with a policy repository: policies/rego/ (with *_test.rego), policies/cedar/, policy-tests/*.yaml.',
    '',
    'Subcommands:',
    ...POLICY_SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help    show this help',
    '',
    "Run 'gatehouse policy help <subcommand>' for one subcommand's help.",
    '',
  ].join('\n');
}

/** The verb's help: the overview, then every subcommand's own help (`gatehouse policy test --help` shows it too). */
function fullHelp(): string {
  return [overview(), ...POLICY_SUBCOMMANDS.map((c) => `${'-'.repeat(72)}\n${c.help}`)].join('\n');
}

function find(name: string): CliCommand | undefined {
  return POLICY_SUBCOMMANDS.find((c) => c.name === name);
}

export const policyCommand: CliCommand = {
  name: 'policy',
  summary: 'Test policies, diff two commits, and show which policy commit is active',
  help: fullHelp(),
  helpFor(args: string[]): string {
    return POLICY_SUBCOMMANDS.find((c) => c.name === args[0])?.help ?? fullHelp();
  },
  async run(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined) throw new UsageError('a subcommand is required');
    if (name === 'help') {
      const topic = rest[0];
      const sub = topic === undefined ? undefined : find(topic);
      if (topic !== undefined && sub === undefined) throw new UsageError(`no help for unknown subcommand '${topic}'`);
      process.stdout.write(sub?.help ?? overview());
      return 0;
    }
    const sub = find(name);
    if (sub === undefined) throw new UsageError(`unknown subcommand '${name}'`);
    try {
      return await sub.run(rest);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(usageErrorText(`policy ${sub.name}`, e.message));
      return 2;
    }
  },
};

export default policyCommand;

// `gatehouse audit <subcommand>`: dispatches to one module per subcommand (audit-<name>.ts) and owns
// the verb's help and its usage errors.

import { UsageError, usageErrorText } from './args.ts';
import { auditDisclosuresCommand } from './audit-disclosures.ts';
import { auditExplainCommand } from './audit-explain.ts';
import { auditInitDbCommand } from './audit-init-db.ts';
import { auditKeygenCommand } from './audit-keygen.ts';
import { auditQueryCommand } from './audit-query.ts';
import { auditUnsealCommand } from './audit-unseal.ts';
import { auditVerifyCommand } from './audit-verify.ts';
import type { CliCommand } from './command.ts';

/** Every `gatehouse audit` subcommand, in the order help lists them. */
export const AUDIT_SUBCOMMANDS: readonly CliCommand[] = [auditVerifyCommand, auditQueryCommand, auditDisclosuresCommand, auditExplainCommand, auditUnsealCommand, auditKeygenCommand, auditInitDbCommand];

function overview(): string {
  const width = Math.max(...AUDIT_SUBCOMMANDS.map((c) => c.name.length));
  return [
    'Usage: gatehouse audit <subcommand> [options]',
    '',
    'Work with the audit log (docs/audit.md): verify its chain and signed checkpoints, list what was accessed and whose rows, reproduce a decision, open break-glass copies, create keys.',
    '',
    'Subcommands:',
    ...AUDIT_SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help    show this help',
    '',
    "Run 'gatehouse audit help <subcommand>' for one subcommand's help.",
    '',
  ].join('\n');
}

function fullHelp(): string {
  return [overview(), ...AUDIT_SUBCOMMANDS.map((c) => `${'-'.repeat(72)}\n${c.help}`)].join('\n');
}

export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'Verify the audit log offline, list recorded statements, reproduce a recorded decision, create the checkpoint signing key',
  help: fullHelp(),
  helpFor(args: string[]): string {
    return AUDIT_SUBCOMMANDS.find((c) => c.name === args[0])?.help ?? fullHelp();
  },
  async run(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined) throw new UsageError('a subcommand is required');
    if (name === 'help') {
      const topic = rest[0];
      const sub = topic === undefined ? undefined : AUDIT_SUBCOMMANDS.find((c) => c.name === topic);
      if (topic !== undefined && sub === undefined) throw new UsageError(`no help for unknown subcommand '${topic}'`);
      process.stdout.write(sub?.help ?? overview());
      return 0;
    }
    const sub = AUDIT_SUBCOMMANDS.find((c) => c.name === name);
    if (sub === undefined) throw new UsageError(`unknown subcommand '${name}'`);
    try {
      return await sub.run(rest);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(usageErrorText(`audit ${sub.name}`, e.message));
      return 2;
    }
  },
};

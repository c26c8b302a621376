// `gatehouse <verb>`: dispatches to the verbs in COMMANDS and owns help, version and usage errors.

import { usageErrorText } from './args.ts';
import { approvalsCommand } from './approvals.ts';
import { auditCommand } from './audit.ts';
import { benchCommand } from './bench.ts';
import type { CliCommand } from './command.ts';
import { dbCommand } from './db.ts';
import { demoCommand } from './demo.ts';
import { policyCommand } from './policy.ts';
import { replayCommand } from './replay.ts';
import { runCommand } from './run-command.ts';
import { serveCommand } from './serve.ts';
import { tokenCommand } from './token.ts';
import { version } from './version.ts';

/** Every verb, in the order `gatehouse --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [serveCommand, demoCommand, tokenCommand, policyCommand, approvalsCommand, auditCommand, replayCommand, dbCommand, benchCommand];


export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: gatehouse <command> [options]',
    '',
    'Gatehouse: a policy-as-code gateway for PostgreSQL.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help       show this help',
    '  -v, --version    print the version',
    '',
    "Run 'gatehouse help <command>' or 'gatehouse <command> --help' for a command's options.",
    '',
  ].join('\n');
}

function find(name: string): CliCommand | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  if (verb === '--help' || verb === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  if (verb === '--version' || verb === '-v' || verb === 'version') {
    process.stdout.write(`gatehouse ${version()}\n`);
    return 0;
  }
  if (verb === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(usage());
      return 0;
    }
    const command = find(topic);
    if (command === undefined) {
      process.stderr.write(usageErrorText('', `no help for unknown command '${topic}'`));
      return 2;
    }
    process.stdout.write(command.help);
    return 0;
  }
  const command = find(verb);
  if (command === undefined) {
    process.stderr.write(usageErrorText('', `unknown command '${verb}'`));
    return 2;
  }
  return runCommand(command, rest);
}

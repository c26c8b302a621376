// Runs one CLI verb with its arguments: `--help` anywhere before `--` prints its help, and what it
// throws becomes an exit code and a message (usage errors 2, Gatehouse errors and others 1).
import { isGatehouseError } from '../errors.ts';
import { UsageError, usageErrorText } from './args.ts';
import type { CliCommand } from './command.ts';

function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** Runs `command` with `args` (the words after its name); resolves to the process exit code. */
export async function runCommand(command: CliCommand, args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(command.helpFor?.(args) ?? command.help);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(usageErrorText(command.name, e.message));
      return 2;
    }
    if (isGatehouseError(e)) {
      process.stderr.write(`gatehouse ${command.name}: ${e.message}\n${e.hint === undefined ? '' : `hint: ${e.hint}\n`}`);
      return 1;
    }
    process.stderr.write(`gatehouse ${command.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

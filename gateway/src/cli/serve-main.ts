// The entry `gatehouse serve` runs (bin/gatehouse.js): the serve verb alone, without the modules of
// the other verbs (bench, demo, db, audit, policy, ...) that cli/main.ts loads to list them, and that a
// long-running gateway would otherwise keep in memory for nothing. Same behaviour as `main(['serve', ...])`.
import { runCommand } from './run-command.ts';
import { serveCommand } from './serve.ts';

/** Runs `gatehouse serve` with argv (its first word is `serve`); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] !== serveCommand.name) throw new Error(`serve-main runs only '${serveCommand.name}', not ${JSON.stringify(argv[0])}`);
  return runCommand(serveCommand, argv.slice(1));
}

// The shape of one CLI verb: cli/main.ts dispatches `gatehouse <verb>` to one of these.

export interface CliCommand {
  name: string;
  /** One line for `gatehouse --help`. */
  summary: string;
  /** Full text for `gatehouse <verb> --help`: usage, options, examples. */
  help: string;
  /** The help for `gatehouse <verb> ARGS --help` when it depends on ARGS (a subcommand's own help); default `help`. */
  helpFor?(args: string[]): string;
  /** Runs the verb with the arguments after the verb; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

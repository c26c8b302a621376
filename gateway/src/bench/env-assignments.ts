// `NAME=VALUE` command-line assignments (the A/B and memory scripts' --env options) as an environment object.

/** Parses each `NAME=VALUE` (the value may hold `=`); throws on an assignment without a name. */
export function parseEnvAssignments(assignments: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    const name = eq <= 0 ? '' : assignment.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a NAME=VALUE environment assignment: ${JSON.stringify(assignment)}`);
    env[name] = assignment.slice(eq + 1);
  }
  return env;
}

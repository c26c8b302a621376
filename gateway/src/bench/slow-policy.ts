// The isolation harness's "slow policy" statement: a copy of the repository's Rego policies plus
// one rule that spends a long time evaluating (a large comprehension) for statements carrying a
// marker, as a policy commit that passed its tests but loops on some input would. Everything else
// decides as the repository's policies do. The marker is a function name, a fact the repository's
// policies read already: a rule on the statement's text would put every statement's text into the
// decision cache's key (policy/input-reads.ts), so each literal of the well-behaved traffic would be a
// miss, in every phase, and the run would measure that policy's cache misses rather than the hostile client.

import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SLOW_POLICY_MARKER } from './hostile-client.ts';

/** How many numbers the slow rule walks: about a second of evaluation per statement here (300,000 took 0.35 s). */
export const SLOW_RULE_SIZE = 1_000_000;

export function slowRule(size = SLOW_RULE_SIZE): string {
  return [
    '# Written by the isolation harness (gateway/src/bench/slow-policy.ts), never part of the repository.',
    'package gatehouse',
    '',
    'deny contains {"id": "bench-slow-policy", "reason": "the bench\'s deliberately slow rule"} if {',
    `\tsome f in input.statement.functions`,
    `\tcontains(f, "${SLOW_POLICY_MARKER}")`,
    `\tcount([x | some x in numbers.range(1, ${size}); x % 7 == 3]) > 0`,
    '}',
    '',
  ].join('\n');
}

/** Copies `policiesDir` (Rego) to `into` and adds the slow rule; returns `into`. */
export async function writeSlowPolicyCopy(policiesDir: string, into: string, size = SLOW_RULE_SIZE): Promise<string> {
  await cp(policiesDir, into, { recursive: true });
  await writeFile(path.join(into, 'bench_slow.rego'), slowRule(size));
  return into;
}

// Rego policies that overrun any evaluation budget, for the tests of the CPU deadline, the cool-down
// and gated activation: a comprehension over 400 million pairs that keeps nothing (seconds to minutes
// of CPU, little memory).

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.ts';

const LOOP = 'count([1 | some a in numbers.range(1, 20000); some b in numbers.range(1, 20000); a * b == -1]) == 0';

/** A module with deny rule `id` that loops on every input, or only on statements whose text contains `marker`. */
export function loopingRego(marker?: string, id = 'slow'): string {
  const only = marker === undefined ? '' : `\tcontains(input.statement.text, "${marker}")\n`;
  return `package gatehouse\n\ndeny contains {"id": "${id}", "reason": "never reached in time"} if {\n${only}\t${LOOP}\n}\n`;
}

/** A new directory with the example Rego policies (their tests left out) and slow.rego looping on `marker`; returns it. */
export function examplePoliciesLoopingOn(marker: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-looping-policy-'));
  cpSync(join(REPO_ROOT, 'policies/rego'), dir, { recursive: true });
  rmSync(join(dir, 'gatehouse_test.rego'));
  writeFileSync(join(dir, 'slow.rego'), loopingRego(marker));
  return dir;
}

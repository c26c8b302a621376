// The example policies with their approve rules taken out, for the benchmark's comparison of
// pgbench -S through Gatehouse with and without approve rules in the policy (run-bench.ts).
// Copies the engine's policy directory and removes each approve rule from the copy.

import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineKind } from '../policy/types.ts';

/** Rego: each `approve contains ... if { ... }` rule (the body closes with `}` at the line start). */
const REGO_APPROVE = /^approve contains [^\n]*\{\n[\s\S]*?^\}\n/gm;
/** Cedar: each policy carrying an @approve annotation, from its first annotation to its `;`. */
const CEDAR_APPROVE = /^(?:@[a-z_]+\([^)]*\)\n)*@approve\([^)]*\)\n(?:@[a-z_]+\([^)]*\)\n)*permit\s*\([\s\S]*?\);\n/gm;

/** Removes the approve rules from one policy file's text; returns the text and how many went. */
export function stripApproveRules(engine: EngineKind, text: string): { text: string; removed: number } {
  let removed = 0;
  const out = text.replace(engine === 'rego' ? REGO_APPROVE : CEDAR_APPROVE, () => {
    removed++;
    return '';
  });
  // Rego's entry point reads `approve`: keep it defined, and empty.
  return { text: engine === 'rego' && removed > 0 ? `${out}\napprove := set()\n` : out, removed };
}

/** Copies `source` to `target` without its approve rules; throws when it had none (nothing to compare). */
export async function copyWithoutApproveRules(engine: EngineKind, source: string, target: string): Promise<number> {
  await cp(source, target, { recursive: true });
  let removed = 0;
  const suffix = engine === 'rego' ? '.rego' : '.cedar';
  for (const name of await readdir(target)) {
    if (!name.endsWith(suffix) || name.endsWith('_test.rego')) continue;
    const file = path.join(target, name);
    const stripped = stripApproveRules(engine, await readFile(file, 'utf8'));
    if (stripped.removed > 0) await writeFile(file, stripped.text);
    removed += stripped.removed;
  }
  if (removed === 0) throw new Error(`no approve rule found in ${source}: the comparison would measure nothing`);
  return removed;
}

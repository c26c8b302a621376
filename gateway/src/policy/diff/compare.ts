// What changed between two verdicts on the same input: the action, the set of deciding policies,
// and the masks (per table column: added, removed, or a different strategy). Reasons are not compared.

import { maskStrength } from '../combine.ts';
import type { EngineVerdict } from '../types.ts';
import type { MaskChange, VerdictSummary } from './types.ts';

export function summarizeVerdict(v: EngineVerdict): VerdictSummary {
  const masks = new Map<string, VerdictSummary['masks'][number]>();
  for (const m of v.masks) masks.set(`${m.table}\0${m.column}\0${m.strategy}`, { table: m.table, column: m.column, strategy: m.strategy });
  return {
    action: v.action,
    policies: [...new Set(v.policies)].sort(),
    masks: [...masks.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m),
    reason: v.reason,
  };
}

/** Which of action, policies and masks differ; [] when the decision is the same. */
export function changedParts(base: VerdictSummary, head: VerdictSummary): Array<'action' | 'policies' | 'masks'> {
  const out: Array<'action' | 'policies' | 'masks'> = [];
  if (base.action !== head.action) out.push('action');
  if (base.policies.join('\0') !== head.policies.join('\0')) out.push('policies');
  if (maskChanges(base, head).length > 0) out.push('masks');
  return out;
}

/**
 * Per (table, column), the strategy on each side when they differ. A column masked twice on one side
 * (two policies, two strategies) is compared by its strongest strategy, as the gateway applies it.
 */
export function maskChanges(base: VerdictSummary, head: VerdictSummary): MaskChange[] {
  const b = strongestByColumn(base);
  const h = strongestByColumn(head);
  const out: MaskChange[] = [];
  for (const key of [...new Set([...b.keys(), ...h.keys()])].sort()) {
    const before = b.get(key) ?? null;
    const after = h.get(key) ?? null;
    if (before === after) continue;
    const [table = '', column = ''] = key.split('\0');
    out.push({ table, column, base: before, head: after });
  }
  return out;
}

function strongestByColumn(v: VerdictSummary): Map<string, VerdictSummary['masks'][number]['strategy']> {
  const out = new Map<string, VerdictSummary['masks'][number]['strategy']>();
  for (const m of v.masks) {
    const key = `${m.table}\0${m.column}`;
    const current = out.get(key);
    if (current === undefined || maskStrength(m.strategy) > maskStrength(current)) out.set(key, m.strategy);
  }
  return out;
}

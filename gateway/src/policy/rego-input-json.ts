// The JSON text of a policy input as the Rego engine hands it to OPA: only the parts its sources
// read (policy/input-reads.ts, the same analysis the decision cache's keys rest on), so that OPA
// parses and hashes a third of the input instead of all of it. A part no source names cannot change
// an answer; a policy that may read anything (READS_ALL) gets the whole input.

import { frozenJson } from './frozen-json.ts';
import type { InputReads } from './input-reads.ts';
import type { PolicyInput } from './types.ts';

/** A top-level key and either the whole value or the listed fields of it, keys quoted once. */
interface PlanPart {
  key: string;
  quoted: string;
  fields: Array<{ name: string; quoted: string }> | 'whole';
}

export type RegoInputJson = (input: PolicyInput) => string;

/** Made once per engine: the serializer of the parts `reads` names. */
export function regoInputJson(reads: InputReads): RegoInputJson {
  if (reads.kind === 'all') return (input) => JSON.stringify(input);
  const parts = new Map<string, PlanPart>();
  for (const path of reads.paths) {
    const key = path[0];
    const part = parts.get(key) ?? { key, quoted: JSON.stringify(key), fields: [] };
    parts.set(key, part);
    if (path.length === 1) part.fields = 'whole';
    else if (part.fields !== 'whole') part.fields.push({ name: path[1], quoted: JSON.stringify(path[1]) });
  }
  const plan = [...parts.values()];
  return (input) => {
    const top = input as unknown as Record<string, unknown>;
    let json = '{';
    let first = true;
    for (const part of plan) {
      const value = top[part.key];
      let text: string | undefined;
      if (part.fields === 'whole' || typeof value !== 'object' || value === null || Array.isArray(value)) {
        // Read whole, or a path into something that is not an object (OPA finds nothing under it either).
        text = part.fields === 'whole' ? frozenJson(value) : undefined;
      } else {
        text = objectJson(value as Record<string, unknown>, part.fields);
      }
      if (text === undefined) continue;
      json += `${first ? '' : ','}${part.quoted}:${text}`;
      first = false;
    }
    return `${json}}`;
  };
}

/** `{"a":...,"b":...}` of the listed fields present in `value` (absent ones left out, as JSON.stringify does). */
function objectJson(value: Record<string, unknown>, fields: ReadonlyArray<{ name: string; quoted: string }>): string {
  let json = '{';
  let first = true;
  for (const field of fields) {
    const text = frozenJson(value[field.name]);
    if (text === undefined) continue;
    json += `${first ? '' : ','}${field.quoted}:${text}`;
    first = false;
  }
  return `${json}}`;
}

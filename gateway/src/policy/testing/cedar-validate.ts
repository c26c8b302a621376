// Validates a Cedar policy directory the way the gateway loads it (strict validation against the schema,
// Gatehouse's annotations) and reports each policy, or each problem, as a result with its file and line.

import { isGatehouseError } from '../../errors.ts';
import { cedarEngineFromSet } from '../cedar-engine.ts';
import { readCedarPolicySet } from '../cedar-policies.ts';
import { readPolicyFiles } from '../policy-files.ts';
import type { PolicyEngine } from '../types.ts';
import type { PolicyTestResult } from './types.ts';

export interface CedarValidation {
  results: PolicyTestResult[];
  /** The loaded engine, or null when the set does not validate. */
  engine: PolicyEngine | null;
}

interface Where {
  file: string;
  line: number;
}

export async function validateCedarDirectory(
  dir: string,
  opts: { revision: string; schemaPath?: string; relativeDir: string },
): Promise<CedarValidation> {
  const started = Date.now();
  const ids = await policyLocations(dir, opts.relativeDir);
  try {
    const set = await readCedarPolicySet(dir, opts.schemaPath);
    const engine = cedarEngineFromSet(set, opts.revision);
    const each = Math.round((Date.now() - started) / Math.max(1, Object.keys(set.texts).length));
    const results = Object.keys(set.texts)
      .sort()
      .map((id): PolicyTestResult => ({ name: `policy ${id}`, ...(ids.get(id) ?? {}), status: 'passed', durationMs: each }));
    return { results, engine };
  } catch (e) {
    const durationMs = Date.now() - started;
    if (!isGatehouseError(e)) {
      return { results: [{ name: 'load', status: 'error', message: e instanceof Error ? e.message : String(e), durationMs }], engine: null };
    }
    return { results: problems(e.message, e.detail, ids, opts.relativeDir, durationMs), engine: null };
  }
}

/** One result per validation problem ("<policy id>: message" lines), or one for the whole set. */
function problems(message: string, detail: string | undefined, ids: Map<string, Where>, relativeDir: string, durationMs: number): PolicyTestResult[] {
  const lines = (detail ?? '').split('\n').filter((l) => l.trim() !== '');
  const perPolicy = lines.map((line) => {
    const colon = line.indexOf(': ');
    const id = colon > 0 ? line.slice(0, colon) : '';
    return { id, line, where: ids.get(id) };
  });
  if (/do not validate/.test(message) && perPolicy.length > 0 && perPolicy.every((p) => p.where !== undefined)) {
    return perPolicy.map((p) => ({ name: `policy ${p.id}`, ...p.where, status: 'failed' as const, message: p.line, durationMs }));
  }
  // A file named at the start of the message ("x.cedar does not parse", "x.cedar: policy ... ") is where to look.
  const file = /^([^\s:]+\.cedar)\b/.exec(message)?.[1];
  const where = file === undefined ? {} : { file: `${relativeDir}/${file}` };
  return [{ name: 'validate', ...where, status: 'failed', message: detail === undefined ? message : `${message}\n${detail}`, durationMs }];
}

/** Where each `@id("...")` is written, for pointing at a policy in reports. */
async function policyLocations(dir: string, relativeDir: string): Promise<Map<string, Where>> {
  const out = new Map<string, Where>();
  let files;
  try {
    files = await readPolicyFiles(dir, 'cedar');
  } catch {
    return out;
  }
  for (const f of files) {
    f.content.split('\n').forEach((text, i) => {
      for (const m of text.matchAll(/@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)/g)) {
        const id = m[1];
        if (id !== undefined && !out.has(id)) out.set(id, { file: `${relativeDir}/${f.path}`, line: i + 1 });
      }
    });
  }
  return out;
}

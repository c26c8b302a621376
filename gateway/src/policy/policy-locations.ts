// Where a policy id is written in a policy directory: the file:line of each Rego rule whose
// result carries "id": "<id>", and of each Cedar policy annotated @id("<id>"). Lets people go
// from a recorded decision to the rule that made it.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { EngineKind } from './types.ts';

const EXTENSION: Record<EngineKind, string> = { rego: '.rego', cedar: '.cedar' };

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A pattern matching where `id` is declared, in the engine's syntax. */
function declaration(engine: EngineKind, id: string): RegExp {
  const quoted = escape(JSON.stringify(id));
  return engine === 'rego' ? new RegExp(`"id"\\s*:\\s*${quoted}`) : new RegExp(`@id\\(\\s*${quoted}\\s*\\)`);
}

function policyFiles(dir: string, extension: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...policyFiles(path, extension));
    else if (entry.isFile() && entry.name.endsWith(extension) && !entry.name.endsWith(`_test${extension}`)) out.push(path);
  }
  return out.sort();
}

/**
 * The line without its comment (Rego `#`, Cedar `//`), strings kept whole: a commented-out rule is
 * not where a policy is written.
 */
export function withoutComment(engine: EngineKind, line: string): string {
  let quote: '"' | '`' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || (c === '`' && engine === 'rego')) quote = c;
    else if (engine === 'rego' ? c === '#' : c === '/' && line[i + 1] === '/') return line.slice(0, i);
  }
  return line;
}

/**
 * For each id, the places (path relative to `root`, ":line") where it is declared under
 * `policyDir`; an id declared nowhere maps to [] (e.g. one Gatehouse adds itself).
 */
export function locatePolicies(engine: EngineKind, policyDir: string, ids: string[], root = policyDir): Record<string, string[]> {
  const files = policyFiles(policyDir, EXTENSION[engine]).map((f) => ({ file: relative(root, f), lines: readFileSync(f, 'utf8').split('\n').map((l) => withoutComment(engine, l)) }));
  const out: Record<string, string[]> = {};
  for (const id of ids) {
    const pattern = declaration(engine, id);
    out[id] = files.flatMap(({ file, lines }) => lines.flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}`] : [])));
  }
  return out;
}

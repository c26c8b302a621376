// Validates a config document against schemas/config.schema.json and explains each problem as "path: message".

import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { compileSchemaFile, displayPath as display, pointerSegments } from '../schema/validator.ts';

export const CONFIG_SCHEMA_URL = new URL('../../../schemas/config.schema.json', import.meta.url);

let compiled: ValidateFunction | null = null;

/** The parsed schema (also used by tests and docs checks). */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(CONFIG_SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

/** Compiled once per process. */
function validator(): ValidateFunction {
  compiled ??= compileSchemaFile(CONFIG_SCHEMA_URL);
  return compiled;
}

/** Returns every schema problem in doc, as "path: message", or [] when it is valid. */
export function schemaProblems(doc: unknown): string[] {
  const validate = validator();
  if (validate(doc)) return [];
  const problems: string[] = [];
  for (const error of validate.errors ?? []) {
    const text = explain(error);
    if (text !== null && !problems.includes(text)) problems.push(text);
  }
  return problems;
}

/** "/auth/algorithms/0" → "auth.algorithms[0]". */
export function displayPath(instancePath: string, child?: string): string {
  const parts = pointerSegments(instancePath);
  if (child !== undefined) parts.push(child);
  return display(parts);
}

function explain(error: ErrorObject): string | null {
  // Errors inside a oneOf/anyOf branch are the branch's reasons for not matching; the
  // combinator's own error (with its x-message) says it better. An "if" error only repeats
  // the "then" errors reported next to it.
  if (/\/(oneOf|anyOf)\/\d+\/|\/not\//.test(error.schemaPath)) return null;
  if (error.keyword === 'if') return null;

  const params = error.params as Record<string, unknown>;
  const custom = (error.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  switch (error.keyword) {
    case 'required':
      return `${displayPath(error.instancePath, String(params['missingProperty']))}: is required`;
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys(((error.parentSchema as Record<string, unknown>)['properties'] ?? {}) as object);
      const suggestion = suggest(key, known);
      return `${displayPath(error.instancePath, key)}: unknown key${suggestion === null ? '' : ` (did you mean '${suggestion}'?)`}`;
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return `${displayPath(error.instancePath)}: must be one of ${allowed}`;
    }
    case 'oneOf':
    case 'anyOf':
    case 'not':
    case 'pattern':
    case 'format':
      if (typeof custom === 'string') return `${displayPath(error.instancePath)}: ${custom}`;
      return `${displayPath(error.instancePath)}: ${error.message ?? error.keyword}`;
    default:
      return `${displayPath(error.instancePath)}: ${error.message ?? error.keyword}`;
  }
}

/** The known key closest to a typo: same key in snake_case, or within two edits. */
function suggest(key: string, known: string[]): string | null {
  const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
  if (snake !== key && known.includes(snake)) return snake;
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

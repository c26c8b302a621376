// Loads gatehouse.yaml (or a plain object) into a validated GatehouseConfig, or fails listing every problem.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { GatehouseError } from '../errors.ts';
import type { ConfigDocument, ConfigOverrides } from './document.ts';
import { expandEnv } from './env-expand.ts';
import type { Env } from './env-expand.ts';
import { semanticProblems, toConfig } from './normalize.ts';
import type { GatehouseConfig } from './types.ts';
import { schemaProblems } from './validate.ts';

export interface LoadOptions {
  /** Variables for ${VAR} expansion; process.env by default. */
  env?: Env;
}

/** Reads, expands, validates and normalizes a YAML config file. Relative paths resolve against its directory. */
export async function loadConfig(
  path: string,
  overrides?: ConfigOverrides,
  options: LoadOptions = {},
): Promise<GatehouseConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new GatehouseError('CONFIG_INVALID', `cannot read config file ${file}: ${(cause as Error).message}`, { cause });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalid(file, doc.errors.map((e) => `(yaml): ${e.message.split('\n')[0]}`));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    throw invalid(file, [`(yaml): ${(cause as Error).message}`]);
  }
  return build(data, dirname(file), overrides, options, file);
}

/** Validates a document built in code (same snake_case keys as the file). Relative paths resolve against baseDir. */
export function configFromObject(
  obj: unknown,
  baseDir: string,
  overrides?: ConfigOverrides,
  options: LoadOptions = {},
): GatehouseConfig {
  return build(obj, resolve(baseDir), overrides, options, null);
}

function build(
  data: unknown,
  baseDir: string,
  overrides: ConfigOverrides | undefined,
  options: LoadOptions,
  file: string | null,
): GatehouseConfig {
  const merged = overrides === undefined ? data : deepMerge(data, overrides);
  const problems: string[] = [];
  const expanded = expandEnv(merged, options.env ?? process.env, problems);
  problems.push(...schemaProblems(expanded));
  if (problems.length === 0) problems.push(...semanticProblems(expanded as ConfigDocument));
  if (problems.length > 0) throw invalid(file, problems);
  return toConfig(expanded as ConfigDocument, baseDir);
}

function invalid(file: string | null, problems: string[]): GatehouseError {
  const where = file === null ? 'configuration' : `configuration in ${file}`;
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return new GatehouseError(
    'CONFIG_INVALID',
    `invalid ${where} (${problems.length} ${noun}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    { hint: 'see docs/configuration.md and schemas/config.schema.json' },
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Objects merge key by key; anything else in the override replaces the base value. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    out[key] = deepMerge(base[key], value);
  }
  return out;
}

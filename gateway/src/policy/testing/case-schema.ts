// Validates a parsed case file against schemas/policy-test.schema.json; each problem keeps its JSON pointer
// so the loader can name the case and line it is about.

import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { compileSchemaFile, displayPath, pointerSegments } from '../../schema/validator.ts';

export const POLICY_TEST_SCHEMA_URL = new URL('../../../../schemas/policy-test.schema.json', import.meta.url);

export interface SchemaProblem {
  /** JSON pointer segments of the offending value, e.g. ["cases", "3", "expect"]. */
  path: string[];
  message: string;
}

let compiled: ValidateFunction | null = null;

function validator(): ValidateFunction {
  compiled ??= compileSchemaFile(POLICY_TEST_SCHEMA_URL);
  return compiled;
}

/** Every schema problem of a case file document; [] when it is valid. */
export function caseFileProblems(doc: unknown): SchemaProblem[] {
  const validate = validator();
  if (validate(doc)) return [];
  const errors = validate.errors ?? [];
  // A oneOf failure already explains the branches; their own "required" errors only repeat it.
  const oneOfAt = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'required' && oneOfAt.has(error.instancePath) && /\/oneOf\/\d+\/required$/.test(error.schemaPath)) continue;
    const problem = explain(error);
    const key = `${problem.path.join('/')}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function explain(error: ErrorObject): SchemaProblem {
  const path = pointerSegments(error.instancePath);
  const where = displayPath(path);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty?: unknown }).additionalProperty);
      return { path: [...path, key], message: `${displayPath([...path, key])}: unknown key` };
    }
    case 'required': {
      const key = String((error.params as { missingProperty?: unknown }).missingProperty);
      return { path, message: `${displayPath([...path, key])}: is required` };
    }
    case 'oneOf': {
      const custom = (error.parentSchema as { 'x-message'?: unknown } | undefined)?.['x-message'];
      return { path, message: `${where}: ${typeof custom === 'string' ? custom : 'matches none or several of the allowed forms'}` };
    }
    case 'dependentRequired': {
      const params = error.params as { property?: unknown; missingProperty?: unknown };
      return { path, message: `${where}: ${String(params.property)} is only allowed with ${String(params.missingProperty)}` };
    }
    case 'propertyNames':
      return { path, message: `${where}: ${String((error.params as { propertyName?: unknown }).propertyName)} is not a statement field of the policy input` };
    case 'enum':
      return { path, message: `${where}: must be one of ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).map(String).join(', ')}` };
    case 'const':
      return { path, message: `${where}: must be ${JSON.stringify((error.params as { allowedValue?: unknown }).allowedValue)}` };
    default:
      return { path, message: `${where}: ${error.message ?? 'is invalid'}` };
  }
}

// Compiles Gatehouse's JSON Schemas (schemas/*.json, draft 2020-12) and turns ajv's JSON pointers
// into paths people read ("cases[3].expect"). Shared by every document Gatehouse validates.

import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Compiles one schema file with formats and our `x-message` annotation (a friendlier message at that
 * node); `refs`: the files whose `$id` it refers to (e.g. a list schema's item schema).
 */
export function compileSchemaFile(url: URL, refs: readonly URL[] = []): ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  // ajv-formats is CommonJS; depending on interop its plugin is the module or its default.
  const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  for (const ref of refs) ajv.addSchema(JSON.parse(readFileSync(ref, 'utf8')) as Record<string, unknown>);
  return ajv.compile(JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>);
}

/** "/cases/3/expect" → ["cases", "3", "expect"] (RFC 6901 unescaping). */
export function pointerSegments(instancePath: string): string[] {
  return instancePath === '' ? [] : instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** ["cases", "3", "expect"] → "cases[3].expect"; the empty path is "(root)". */
export function displayPath(segments: readonly string[]): string {
  let out = '';
  for (const part of segments) {
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisionCorpus } from '../bench/decision-timing.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { READS_ALL, regoInputReads } from './input-reads.ts';
import { readPolicyFiles } from './policy-files.ts';
import { compileRegoDirectory, loadRegoEngine } from './rego-engine.ts';
import { regoInputJson } from './rego-input-json.ts';
import { input, readPatients } from './example-inputs.ts';

const REGO = resolve(import.meta.dirname, '../../../policies/rego');

describe('the Rego engine input as JSON', () => {
  it('is the whole input when the sources may read anything', () => {
    const i = input(['agents'], 'SELECT * FROM clinical.patients', readPatients);
    expect(regoInputJson(READS_ALL)(i)).toBe(JSON.stringify(i));
  });

  it('holds only the parts read, whole or field by field, and leaves absent ones out', () => {
    const i = input(['agents'], 'SELECT * FROM clinical.patients', readPatients);
    const json = regoInputJson({ kind: 'paths', paths: [['identity'], ['statement', 'kind'], ['statement', 'no_such_field'], ['statement', 'tables_read'], ['nothing_here', 'x']] })(i);
    expect(JSON.parse(json)).toEqual({ identity: i.identity, statement: { kind: i.statement.kind, tables_read: i.statement.tables_read } });
  });

  it('finds nothing under a part that is not an object, as OPA would not', () => {
    const i = { ...input(['agents'], 'SELECT * FROM clinical.patients', readPatients), statement: null } as unknown as ReturnType<typeof input>;
    expect(regoInputJson({ kind: 'paths', paths: [['statement', 'kind'], ['version']] })(i)).toBe('{"version":2}');
  });

  it('gives the example policies the same verdicts as the whole input, over the bench corpus', async () => {
    await loadSqlParser();
    const { wasmPath } = await compileRegoDirectory(REGO, { outDir: mkdtempSync(join(tmpdir(), 'gatehouse-rego-input-')) });
    const wasm = readFileSync(wasmPath);
    const sources = (await readPolicyFiles(REGO, 'rego')).map((f) => f.content);
    const reads = regoInputReads(sources);
    expect(reads.kind).toBe('paths');
    const projected = await loadRegoEngine(wasm, 'test:projected', true, {}, reads);
    const whole = await loadRegoEngine(wasm, 'test:whole', true, {}, READS_ALL);
    const corpus = decisionCorpus();
    const allows = corpus.filter((i) => whole.evaluate(i).action !== 'deny').length;
    expect(allows).toBeGreaterThan(0);
    for (const i of corpus) expect(projected.evaluate(i)).toEqual(whole.evaluate(i));
  });
});

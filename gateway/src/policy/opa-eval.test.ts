// Real OPA-built WebAssembly (the example policies' committed module, or the opa CLI).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { decisionCorpus } from '../bench/decision-timing.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { opaJsonEvaluator } from './opa-eval.ts';
import { compileRegoDirectory, REGO_ENTRYPOINT } from './rego-engine.ts';

const REGO = resolve(import.meta.dirname, '../../../policies/rego');
let wasm: Buffer;

beforeAll(async () => {
  await loadSqlParser();
  const { wasmPath } = await compileRegoDirectory(REGO, { outDir: mkdtempSync(join(tmpdir(), 'gatehouse-opa-eval-')) });
  wasm = readFileSync(wasmPath);
});

describe('opa_eval on JSON text', () => {
  it('answers what opa-wasm evaluate answers, input after input', async () => {
    const policy = await loadPolicy(wasm, { initial: 5 });
    const reference = await loadPolicy(wasm, { initial: 5 });
    const evaluate = opaJsonEvaluator(policy, REGO_ENTRYPOINT);
    for (const input of decisionCorpus()) {
      expect(evaluate(JSON.stringify(input))).toEqual(reference.evaluate(input, REGO_ENTRYPOINT));
    }
  });

  it('grows the memory for an input larger than it, and reads the result from the grown memory', async () => {
    const policy = await loadPolicy(wasm, { initial: 5 });
    const reference = await loadPolicy(wasm, { initial: 5 });
    const pages = (policy as unknown as { mem: WebAssembly.Memory }).mem.buffer.byteLength / 65536;
    const [first] = decisionCorpus();
    const big = { ...first!, statement: { ...first!.statement, text: `SELECT '${'é'.repeat(pages * 65536)}'` } };
    const result = opaJsonEvaluator(policy, REGO_ENTRYPOINT)(JSON.stringify(big));
    expect((policy as unknown as { mem: WebAssembly.Memory }).mem.buffer.byteLength / 65536).toBeGreaterThan(pages);
    expect(result).toEqual(reference.evaluate(big, REGO_ENTRYPOINT));
  });

  it('throws when the input does not fit under the memory maximum (the engine denies)', async () => {
    const policy = await loadPolicy(wasm, { initial: 5, maximum: 8 });
    const [first] = decisionCorpus();
    const big = { ...first!, statement: { ...first!.statement, text: 'x'.repeat(1024 * 1024) } };
    expect(() => opaJsonEvaluator(policy, REGO_ENTRYPOINT)(JSON.stringify(big))).toThrow(RangeError);
  });

  it("falls back to opa-wasm's evaluate, with the same bytes, for a policy without the ABI 1.2 fields", async () => {
    const real = await loadPolicy(wasm, { initial: 5 });
    const given: unknown[] = [];
    const withoutFields = {
      entrypoints: real.entrypoints,
      evaluate: (input: unknown, entrypoint: string) => {
        given.push(input);
        return real.evaluate(input, entrypoint);
      },
    } as unknown as LoadedPolicy;
    const [first] = decisionCorpus();
    const result = opaJsonEvaluator(withoutFields, REGO_ENTRYPOINT)(JSON.stringify(first));
    expect(given).toHaveLength(1);
    expect(given[0]).toBeInstanceOf(ArrayBuffer);
    expect(result).toEqual(real.evaluate(first, REGO_ENTRYPOINT));
  });
});

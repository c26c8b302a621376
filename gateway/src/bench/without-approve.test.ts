import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../policy/example-inputs.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import { copyWithoutApproveRules, stripApproveRules } from './without-approve.ts';

const POLICIES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../policies');
const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('the example policies without approve rules', () => {
  it('rego: the approve rule goes, approve stays defined and empty, the rest stays', async () => {
    const text = await readFile(path.join(POLICIES, 'rego', 'clinical.rego'), 'utf8');
    const out = stripApproveRules('rego', text);
    expect(out.removed).toBe(1);
    expect(out.text).not.toMatch(/^approve contains/m);
    expect(out.text).toContain('approve := set()');
    expect(out.text).toContain('patient_write_approval :=');
    expect(out.text.split('\n').filter((l) => /^(allow|mask|deny) contains/.test(l))).toEqual(text.split('\n').filter((l) => /^(allow|mask|deny) contains/.test(l)));
  });

  it('cedar: the policy with @approve goes, and the rest still loads', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-noapprove-'));
    dirs.push(dir);
    expect(await copyWithoutApproveRules('cedar', path.join(POLICIES, 'cedar'), path.join(dir, 'cedar'))).toBe(1);
    const clinical = await readFile(path.join(dir, 'cedar', 'clinical.cedar'), 'utf8');
    expect(clinical).not.toContain('@approve');
    expect(clinical).toContain('@id("breakglass-read")');
  });

  it.each(['rego', 'cedar'] as const)('%s: the copy loads, and decides every example scenario as before, except approve', async (engine) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-noapprove-'));
    dirs.push(dir);
    await copyWithoutApproveRules(engine, path.join(POLICIES, engine), path.join(dir, engine));
    const loaded = await loadPolicyEngine({ engine, directory: path.join(dir, engine), buildDir: path.join(dir, 'build'), ...(process.env['GATEHOUSE_OPA'] ? { opaPath: process.env['GATEHOUSE_OPA'] } : {}) });
    for (const s of SCENARIOS) {
      const action = loaded.evaluate(s.input).action;
      if (s.action === 'approve') expect(action, s.name).not.toBe('approve');
      else expect(action, s.name).toBe(s.action);
    }
  }, 120_000);
});

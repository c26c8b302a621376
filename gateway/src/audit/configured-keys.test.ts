import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromObject } from '../config/load.ts';
import { GatehouseError } from '../errors.ts';
import { breakGlassSealer, disclosuresOf } from './configured-keys.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(audit: Record<string, unknown>) {
  return configFromObject(
    {
      auth: { issuer: 'i', audience: 'a', jwks: { file: 'k.json' } },
      upstream: { url: 'postgresql://localhost/x' },
      policies: { engine: 'rego', directory: 'p' },
      audit,
    },
    dir,
    {},
    { env: {} },
  );
}

describe('disclosuresOf', () => {
  it('is null without PHI tables', () => {
    expect(disclosuresOf(config({}), () => undefined)).toBeNull();
  });

  it('creates the subject key on first start, says so, and hashes with it', async () => {
    const notes: string[] = [];
    const d = disclosuresOf(config({ phi_tables: { 'clinical.patients': { subject: 'id' } }, subject_key: 'subject.key' }), (m) => notes.push(m));
    expect(d?.phi.get('clinical.patients')).toBe('id');
    expect(d?.cap).toBe(1000);
    expect((await stat(join(dir, 'subject.key'))).size).toBeGreaterThan(0);
    expect(notes.join('\n')).toMatch(/created the subject key/);
    const again = disclosuresOf(config({ phi_tables: { 'clinical.patients': { subject: 'id' } }, subject_key: 'subject.key' }), (m) => notes.push(m));
    expect(again!.hash('7')).toBe(d!.hash('7'));
    expect(notes).toHaveLength(1);
  });

  it('stops the start when the subject key is missing or unusable', async () => {
    const c = config({ phi_tables: { 'clinical.patients': { subject: 'id' } }, subject_key: 'subject.key' });
    expect(() => disclosuresOf({ ...c, audit: { ...c.audit, subjectKeyFile: null } }, () => undefined)).toThrow(GatehouseError);
    await writeFile(join(dir, 'short.key'), 'x');
    expect(() => disclosuresOf(config({ phi_tables: { 'clinical.patients': { subject: 'id' } }, subject_key: 'short.key' }), () => undefined)).toThrow(/audit.subject_key/);
  });
});

describe('breakGlassSealer', () => {
  it('is null without a key and stops the start with a key it cannot read', () => {
    expect(breakGlassSealer(null)).toBeNull();
    expect(() => breakGlassSealer(join(dir, 'missing.pem'))).toThrow(/audit.breakglass_key .*gatehouse audit keygen --breakglass/);
  });
});

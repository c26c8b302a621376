import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainDecision, ExplainError, findDecision, masksNotApplied } from './explain.ts';
import { auditFileSource } from './record-source-files.ts';
import type { AuditRecord } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-'));

const statement = (id: string, extra: Partial<Extract<AuditRecord, { type: 'statement' }>>): AuditRecord => ({
  v: 1,
  type: 'statement',
  time: '2026-01-01T00:00:00.000Z',
  decision_id: id,
  session_id: 's1',
  identity: null,
  client_address: '10.0.0.1:1',
  application_name: '',
  statement: 'SELECT $1',
  fingerprint: 'ff',
  input: null,
  decision: 'deny',
  reason: 'why',
  policies: [],
  masks: [],
  engine: 'rego',
  revision: 'a'.repeat(40),
  ...extra,
});

function log(name: string, records: AuditRecord[], torn = ''): string {
  const file = join(dir, name);
  writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n${torn}`);
  return file;
}

const options = (decisionId: string, files: string[]) => ({ decisionId, source: auditFileSource(files), repo: dir, policyPaths: { rego: 'policies/rego', cedar: 'policies/cedar' }, cacheDir: join(dir, 'cache') });

describe('audit explain', () => {
  it('finds the first statement record of a decision across files, with its file and line', async () => {
    const a = log('a.ndjson', [statement('d1', {})]);
    const b = log('b.ndjson', [statement('d0', {}), statement('d2', { decision: 'approve' }), statement('d2', { decision: 'allow' })], '{"torn');
    const found = await findDecision(auditFileSource([a, b]), 'd2');
    expect(found).toMatchObject({ at: `${b}:2`, record: { decision: 'approve' } });
    expect(await findDecision(auditFileSource([a, b]), 'd9')).toBeNull();
  });

  it('says why a decision cannot be reproduced before touching any repository', async () => {
    const file = log('c.ndjson', [
      statement('gateway', { engine: null, revision: null, reason: 'COPY TO PROGRAM is refused' }),
      statement('directory', { revision: 'dir:0123abcd' }),
      statement('unparsed', {}),
    ]);
    const why = (id: string) => explainDecision(options(id, [file])).then(() => 'explained', (e: unknown) => (e instanceof ExplainError ? e.message : `other: ${String(e)}`));
    expect(await why('missing')).toContain('no statement record with decision_id missing');
    expect(await why('gateway')).toContain('made by Gatehouse itself, not by a policy (COPY TO PROGRAM is refused)');
    expect(await why('directory')).toContain('policies loaded from a directory, not a commit');
    expect(await why('unparsed')).toContain('has no recorded input');
  });

  it('a mask record lists the masks that applied: the policy\'s others, of columns the statement did not use, are no mismatch', () => {
    const mask = (column: string, strategy: 'redact' | 'hash' = 'redact') => ({ table: 'clinical.patients', column, strategy });
    const verdict = (...masks: ReturnType<typeof mask>[]) => ({ action: 'mask' as const, policies: ['p'], masks, reason: 'r' });
    const policy = verdict(mask('first_name'), mask('ssn'), mask('email', 'hash'));
    const used = { 'clinical.patients': ['id', 'first_name'] };
    expect(masksNotApplied(verdict(mask('first_name')), policy, used)).toEqual(['clinical.patients.ssn', 'clinical.patients.email']);
    // A used column whose mask the record lacks, a strategy that differs, a mask the policy does not have: mismatches.
    expect(masksNotApplied(verdict(mask('first_name')), policy, { 'clinical.patients': ['first_name', 'ssn'] })).toBeNull();
    expect(masksNotApplied(verdict(mask('first_name')), policy, { 'clinical.patients': ['*'] })).toBeNull();
    expect(masksNotApplied(verdict(mask('first_name', 'hash')), policy, used)).toBeNull();
    expect(masksNotApplied(verdict(mask('first_name'), mask('phone')), policy, used)).toBeNull();
  });
});

// Break-glass copies through a real gateway: with audit.breakglass_key, each statement record
// holds the statement as sent and its bound parameters sealed to the key; the log itself still
// holds no literal, and `gatehouse audit unseal` (a real process) opens exactly the statements
// asked for with the private key, and nothing with another key.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runGatehouse } from './support/run-tool.ts';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

const SSN = '987-65-4321';
const NAME = 'Zebulon';
const SIMPLE = `SELECT id FROM clinical.patients WHERE ssn = '${SSN}'`;
const EXTENDED = 'SELECT id FROM clinical.patients WHERE first_name = $1 AND id > $2';

describe('break-glass copies of statements', () => {
  let t: TestGateway;
  let keys: string;
  let other: string;
  let simple: StatementRecord;
  let extended: StatementRecord;

  beforeAll(async () => {
    keys = mkdtempSync(join(tmpdir(), 'gatehouse-it-breakglass-'));
    other = mkdtempSync(join(tmpdir(), 'gatehouse-it-breakglass-other-'));
    for (const dir of [keys, other]) {
      const made = await runGatehouse(['audit', 'keygen', '--breakglass', '--out', dir]);
      expect(made.code, made.stderr).toBe(0);
    }
    t = await startTestGateway({ engine: 'rego', audit: { breakglass_key: join(keys, 'breakglass.pub.pem') } });
    const c = await t.client(await t.token('breakglass-reader', ['breakglass']));
    await c.query(SIMPLE);
    await c.query(EXTENDED, [NAME, 0]);
    const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'outcome').length >= 2);
    const statements = records.filter((r): r is StatementRecord => r.type === 'statement');
    simple = statements.find((r) => r.statement.startsWith('SELECT id FROM clinical.patients WHERE ssn'))!;
    extended = statements.find((r) => r.statement.includes('first_name = $1'))!;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('seals every statement record; the log holds neither the literal nor the parameter in clear', () => {
    expect(simple.sealed).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(extended.sealed).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/);
    const log = readFileSync(t.auditFile, 'utf8');
    expect(log).not.toContain(SSN);
    expect(log).not.toContain(NAME);
    expect(simple.statement).toContain('ssn = $1');
  });

  it('unseal opens the statements asked for: text as sent and parameters', async () => {
    const opened = await runGatehouse(['audit', 'unseal', '--key', join(keys, 'breakglass.key'), '--decision', simple.decision_id, '--decision', extended.decision_id, '--json', t.auditFile]);
    expect(opened.code, opened.stderr).toBe(0);
    const rows = opened.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { decision_id: string; statement: string; parameters: unknown[] });
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.decision_id === simple.decision_id)).toMatchObject({ statement: SIMPLE, parameters: [] });
    expect(rows.find((r) => r.decision_id === extended.decision_id)).toMatchObject({ statement: EXTENDED, parameters: [{ text: NAME }, { text: '0' }] });

    const text = await runGatehouse(['audit', 'unseal', '--key', join(keys, 'breakglass.key'), '--decision', extended.decision_id, t.auditFile]);
    expect(text.stdout).toContain(`$1 = "${NAME}"`);
  });

  it('another key opens nothing (exit 1); choosing nothing is a usage error (exit 2)', async () => {
    const wrong = await runGatehouse(['audit', 'unseal', '--key', join(other, 'breakglass.key'), '--decision', simple.decision_id, t.auditFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toContain('does not open with this key');
    const unknown = await runGatehouse(['audit', 'unseal', '--key', join(keys, 'breakglass.key'), '--decision', 'no-such-decision', t.auditFile]);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no statement record with this id')]);
    const none = await runGatehouse(['audit', 'unseal', '--key', join(keys, 'breakglass.key'), t.auditFile]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining('--decision ID, --session ID or --all')]);
  });
});

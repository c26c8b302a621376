// Adversarial review of `audit query`: crafted records, star reads, terminal control characters.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable } from './query-format.ts';
import { NO_FILTER, queryAuditRecords, type AccessFilter, type AccessRow } from './query.ts';
import { auditFileSource } from './record-source-files.ts';

const base = {
  v: 1,
  type: 'statement',
  time: '2026-12-01T10:00:00.000Z',
  session_id: 's1',
  identity: { subject: 'agent-1', issuer: 'https://idp.example', groups: ['agents'], roles: [], name: null },
  client_address: '10.0.0.7',
  application_name: 'psql',
  statement: 'SELECT * FROM clinical.patients',
  fingerprint: 'f1',
  input: {
    session: { database: 'clinic' },
    statement: { kind: 'select', command: 'SelectStmt', tables_read: ['clinical.patients'], tables_written: [], columns: { 'clinical.patients': ['*'] } },
  },
  decision: 'allow',
  reason: 'r',
  policies: ['p'],
  masks: [],
  engine: 'rego',
  revision: 'a'.repeat(40),
};

function logFile(lines: unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-query-review-')), 'audit.ndjson');
  writeFileSync(file, lines.map((l, i) => (typeof l === 'string' ? l : JSON.stringify({ ...(l as object), seq: i + 1, prev: '0'.repeat(64) }))).join('\n') + '\n');
  return file;
}

async function collect(files: string[], filter: Partial<AccessFilter> = {}, skipped?: string[]): Promise<AccessRow[]> {
  const rows: AccessRow[] = [];
  const options = skipped === undefined ? {} : { onSkipped: (at: string, why: string) => skipped.push(`${at} ${why}`) };
  for await (const r of queryAuditRecords(auditFileSource(files), { ...NO_FILTER, ...filter }, options)) rows.push(r);
  return rows;
}

describe('audit query (review)', () => {
  it('a statement record missing its fields (edited or foreign) is skipped and told, not a crash', async () => {
    const file = logFile([
      { ...base, decision_id: 'd1' },
      { v: 1, type: 'statement', decision_id: 'd2' },
      { ...base, decision_id: 'd3', identity: { subject: 'x' }, masks: null },
      { ...base, decision_id: 'd4', input: { statement: { columns: { 'clinical.patients': 'ssn' } } } },
      { ...base, decision_id: 'd5' },
      { ...base, decision_id: 'd6', time: 'yesterday' }, // an OCSF event needs its time
    ]);
    const skipped: string[] = [];
    const rows = await collect([file], {}, skipped);
    expect(rows.map((r) => r.decision_id)).toEqual(['d1', 'd5']);
    expect(skipped).toHaveLength(4);
    expect(skipped[0]).toContain(`${file}:2`);
  });

  it('--column finds a statement that read every column of the table (SELECT *, a whole-row reference)', async () => {
    const file = logFile([{ ...base, decision_id: 'd1' }, { ...base, decision_id: 'd2', input: { ...base.input, statement: { ...base.input.statement, tables_read: ['clinical.visits'], columns: { 'clinical.visits': ['*'] } } } }]);
    expect((await collect([file], { columns: ['patients.ssn'] })).map((r) => r.decision_id)).toEqual(['d1']);
    expect((await collect([file], { columns: ['clinical.patients.ssn'] })).map((r) => r.decision_id)).toEqual(['d1']);
    expect((await collect([file], { columns: ['other.patients.ssn'] })).map((r) => r.decision_id)).toEqual([]);
  });

  it('the table format prints no control characters a log holds (terminal escapes, line breaks)', async () => {
    const file = logFile([{ ...base, decision_id: 'd1', identity: { ...base.identity, name: 'eve\u001b[2J\u001b]0;pwned\u0007\nforged row' }, input: { ...base.input, statement: { ...base.input.statement, tables_read: ['x\ry'] } } }]);
    const text = formatTable(await collect([file]));
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(text.trimEnd().split('\n')).toHaveLength(2);
  });
});

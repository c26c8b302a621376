import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { input, readPatients } from '../policy/example-inputs.ts';
import { recentRecordedInputs } from './recorded-inputs.ts';

function statementRecord(decisionId: string, fingerprint: string, groups: string[], text: string): string {
  const i = input(groups, text, { ...readPatients, fingerprint });
  return JSON.stringify({ v: 1, type: 'statement', decision_id: decisionId, fingerprint, statement: text, input: i, decision: 'allow', seq: 1, prev: 'x' });
}

describe('recentRecordedInputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-recorded-inputs-'));

  it('gives the newest distinct statements (by shape and identity), passing over other records and torn lines', async () => {
    const file = join(dir, 'audit.ndjson');
    writeFileSync(
      file,
      [
        statementRecord('d1', 'f1', ['agents'], 'SELECT $1'),
        JSON.stringify({ v: 1, type: 'outcome', decision_id: 'd1' }),
        statementRecord('d2', 'f2', ['agents'], 'SELECT * FROM clinical.patients'),
        statementRecord('d3', 'f1', ['support'], 'SELECT $1'), // same shape, other identity: kept
        statementRecord('d4', 'f1', ['agents'], 'SELECT $1'), // same shape and identity as d1: d1 is left out
        JSON.stringify({ v: 1, type: 'statement', decision_id: 'd5', fingerprint: 'f9', statement: 'SELEC', input: null }),
        '{"v":1,"type":"statement","decision_id":"torn',
      ].join('\n'),
    );
    const got = await recentRecordedInputs(file, 10);
    expect(got.map((r) => r.name.match(/decision (\w+)/)![1])).toEqual(['d4', 'd3', 'd2']);
    expect(got[2]!.input.statement.text).toBe('SELECT * FROM clinical.patients');
    expect((await recentRecordedInputs(file, 2)).length).toBe(2);
    expect(await recentRecordedInputs(file, 0)).toEqual([]);
  });

  it('reads only the end of a large log, from its first whole line', async () => {
    const file = join(dir, 'large.ndjson');
    const lines = Array.from({ length: 50 }, (_, n) => statementRecord(`d${n}`, `f${n}`, ['agents'], `SELECT ${n}`));
    writeFileSync(file, lines.join('\n') + '\n');
    const tail = Buffer.byteLength(lines.slice(-3).join('\n')) + 20; // three whole lines and part of a fourth
    const got = await recentRecordedInputs(file, 100, tail);
    expect(got.map((r) => r.name.match(/decision (\w+)/)![1])).toEqual(['d49', 'd48', 'd47']);
  });

  it('gives none for a log that does not exist yet', async () => {
    expect(await recentRecordedInputs(join(dir, 'missing.ndjson'), 10)).toEqual([]);
  });
});

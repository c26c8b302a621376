import { beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../policy/types.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { detectionScopeRefusal } from './detection-scope.ts';

const base: Decision = { action: 'mask', reason: 'r', policies: ['p'], masks: [], id: 'd', engine: 'rego', revision: 'dir:x', evalMicros: 1 };
const detecting: Decision = { ...base, detections: [{ table: 'clinical.visits', column: 'notes', detectors: ['ssn', 'phone'], policies: ['p'] }] };

function parsed(sql: string): ParsedStatement {
  const outcome = analyzeQuery(sql, { searchPath: ['public'] });
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements[0]!;
}

beforeAll(async () => {
  await loadSqlParser();
});

describe('detectionScopeRefusal', () => {
  it('refuses a cursor and every write under content detection, naming the scanned column', () => {
    for (const sql of [
      'DECLARE c CURSOR FOR SELECT notes FROM clinical.visits',
      'DECLARE c CURSOR WITH HOLD FOR SELECT upper(notes) FROM clinical.visits',
      'CREATE TEMP TABLE x AS SELECT notes FROM clinical.visits',
      'SELECT notes INTO TEMP x FROM clinical.visits',
      'INSERT INTO public.scratch SELECT notes FROM clinical.visits',
      'UPDATE clinical.visits SET reason = notes WHERE id = 1',
      'WITH d AS (INSERT INTO public.scratch SELECT notes FROM clinical.visits RETURNING 1) SELECT 1',
      "SELECT set_config('application_name', notes, false) FROM clinical.visits",
      "SELECT pg_catalog.set_config('application_name', (SELECT substr(notes, 30) FROM clinical.visits LIMIT 1), true)",
    ]) {
      expect(detectionScopeRefusal(parsed(sql), detecting)?.message, sql).toContain('clinical.visits.notes');
    }
  });

  it('refuses COPY options that reshape identifiers in the output, and binary COPY', () => {
    for (const [sql, option] of [
      ["COPY clinical.visits (notes) TO STDOUT WITH (FORMAT csv, QUOTE '-', FORCE_QUOTE *)", "QUOTE '-'"],
      ["COPY (SELECT notes FROM clinical.visits) TO STDOUT CSV QUOTE '\"' ESCAPE '9'", "ESCAPE '9'"],
      ["COPY clinical.visits TO STDOUT WITH (DELIMITER '-')", "DELIMITER '-'"],
      ["COPY clinical.visits TO STDOUT (ENCODING 'EUC_JP')", "ENCODING 'EUC_JP'"],
      ['COPY clinical.visits TO STDOUT BINARY', 'FORMAT binary'],
      ['COPY clinical.visits TO STDOUT WITH (FORMAT binary)', 'FORMAT binary'],
    ] as const) {
      expect(detectionScopeRefusal(parsed(sql), detecting)?.message, sql).toContain(option);
    }
    for (const sql of [
      'COPY clinical.visits TO STDOUT',
      "COPY clinical.visits TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', QUOTE '\"', FORCE_QUOTE *)",
      "COPY (SELECT notes FROM clinical.visits) TO STDOUT WITH (FORMAT text, DELIMITER '|', NULL '', ENCODING 'UTF8')",
    ]) {
      expect(detectionScopeRefusal(parsed(sql), detecting), sql).toBeNull();
    }
  });

  it('lets reads run, and asks nothing of a decision without detections', () => {
    expect(detectionScopeRefusal(parsed('SELECT notes FROM clinical.visits'), detecting)).toBeNull();
    expect(detectionScopeRefusal(parsed('COPY (SELECT notes FROM clinical.visits) TO STDOUT'), detecting)).toBeNull();
    expect(detectionScopeRefusal(parsed('DECLARE c CURSOR FOR SELECT ssn FROM clinical.patients'), base)).toBeNull();
    expect(detectionScopeRefusal(parsed('DECLARE c CURSOR FOR SELECT 1'), { ...base, action: 'allow' })).toBeNull();
  });
});

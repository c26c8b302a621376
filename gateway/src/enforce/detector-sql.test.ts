import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES } from './content-detectors.ts';
import { postgresPattern, redactedText, scannedExpression, SourcePatternError, sourceReplacement } from './detector-sql.ts';

describe('detectors at the source: patterns for PostgreSQL', () => {
  it('spells out \\w, \\d and \\s, turns \\b into \\y and named groups into non-capturing ones', () => {
    expect(postgresPattern(String.raw`\bab\d{2}(?<x>c\w)[\s\d-]`)).toBe(String.raw`\yab[0-9]{2}(?:c[A-Za-z0-9_])[ \t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff0-9-]`);
    expect(postgresPattern(String.raw`(?<![\w.])a(?=b)(?!c)\u2010`)).toBe(String.raw`(?<![A-Za-z0-9_.])a(?=b)(?!c)\u2010`);
    expect(postgresPattern('(a|b)')).toBe('(?:a|b)');
  });

  it('refuses what it cannot translate', () => {
    for (const bad of [String.raw`\p{L}`, String.raw`\1`, '[ab', String.raw`\u12`, String.raw`[\b]`]) expect(() => postgresPattern(bad), bad).toThrow(SourcePatternError);
  });

  it('keeps a cue as group 1 and puts it back before the label', () => {
    const ssn = sourceReplacement('ssn');
    expect(ssn.replacement).toBe('\\1[SSN]');
    expect(ssn.pattern.match(/\((?!\?)/g)).toHaveLength(1); // one capturing group
    expect(sourceReplacement('email').replacement).toBe('[EMAIL]');
    for (const name of DETECTOR_NAMES) expect(() => sourceReplacement(name), name).not.toThrow();
  });

  it('builds one schema-qualified regexp_replace per detector, phone before card', () => {
    const expr = redactedText('x', ['card', 'phone']);
    expect(expr.match(/pg_catalog\.regexp_replace\(/g)).toHaveLength(2);
    expect(expr.startsWith("pg_catalog.regexp_replace(pg_catalog.regexp_replace(x, '")).toBe(true);
    expect(expr.endsWith("'[CARD]', 'gi')")).toBe(true);
  });

  it('casts string and JSON columns back, withholds other values holding an identifier, leaves dates alone', () => {
    const col = (type: string, category: string, typeOid: number) => ({ name: 'c', type, category, typeOid });
    expect(scannedExpression(col('character varying(20)', 'S', 1043), 'r', ['ssn'])).toMatch(/^CAST\(pg_catalog\.regexp_replace\(CAST\(r AS pg_catalog\.text\), .* AS character varying\(20\)\)$/);
    expect(scannedExpression(col('jsonb', 'U', 3802), 'r', ['ssn'])).toMatch(/ AS jsonb\)$/);
    expect(scannedExpression(col('bigint', 'N', 20), 'r', ['card'])).toMatch(/^CASE WHEN .* OPERATOR\(pg_catalog\.=\) CAST\(r AS pg_catalog\.text\) THEN r END$/);
    expect(scannedExpression(col('date', 'D', 1082), 'r', ['dob'])).toBe('r');
    expect(scannedExpression(col('text', 'S', 25), 'r', [])).toBe('r');
  });
});

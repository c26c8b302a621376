import { createHmac } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSubjectKey, readSubjectKey, SubjectCollector, subjectHasher } from './subjects.ts';

const key = Buffer.alloc(32, 7);
const hash = subjectHasher(key);

describe('subject hashes', () => {
  it('are HMAC-SHA256 of the text form under the key, never the value', () => {
    expect(hash('1042')).toBe(createHmac('sha256', key).update('1042').digest('hex'));
    expect(hash('1042')).not.toBe(subjectHasher(Buffer.alloc(32, 8))('1042'));
  });

  it('lists distinct subjects up to the cap, counts every row, and skips nulls', () => {
    const c = new SubjectCollector(hash, 2);
    for (const v of ['1', '1', '2', '3', null]) c.add('clinical.patients', v === null ? null : Buffer.from(v));
    expect(c.record()).toEqual({ 'clinical.patients': { status: 'listed', hashes: [hash('1'), hash('2')], count: 4, truncated: true } });
  });

  it('records a table with no rows as listed and empty, and unknown tables with their reason', () => {
    const c = new SubjectCollector(hash, 10);
    c.expect('clinical.patients');
    c.markUnknown('clinical.visits', 'an aggregate');
    expect(c.record()).toEqual({
      'clinical.visits': { status: 'unknown', reason: 'an aggregate' },
      'clinical.patients': { status: 'listed', hashes: [], count: 0, truncated: false },
    });
    expect(new SubjectCollector(hash, 10).record()).toBeNull();
  });

  it('reads a key file, refuses a short one, and creates a missing one with mode 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'subject-key-'));
    writeFileSync(join(dir, 'short'), 'abc');
    expect(() => readSubjectKey(join(dir, 'short'))).toThrow(/at least 16/);
    const made = openSubjectKey(join(dir, 'new', 'subject.key'));
    expect(made.created).toBe(true);
    expect(made.key.length).toBe(32);
    expect(statSync(join(dir, 'new', 'subject.key')).mode & 0o777).toBe(0o600);
    expect(openSubjectKey(join(dir, 'new', 'subject.key'))).toEqual({ key: made.key, created: false });
  });
});

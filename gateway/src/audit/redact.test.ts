import { loadModule } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { fastPathStatementText } from './fast-path-text.ts';
import { redactMessage, redactRecord, redactStatementText, redactionCacheSizes } from './redact.ts';
import { REDACTED_STATEMENT } from './redacted-statement.ts';
import { recordBody } from './record-json.ts';
import type { AuditRecord } from './types.ts';

beforeAll(async () => {
  await loadModule();
});

describe('redactStatementText', () => {
  it('replaces every kind of literal with a $n placeholder, keeping the shape', () => {
    expect(redactStatementText("SELECT * FROM clinical.patients WHERE ssn = '123-45-6789' AND age > 40 LIMIT 2", true)).toBe(
      'SELECT * FROM clinical.patients WHERE ssn = $1 AND age > $2 LIMIT $3',
    );
    const text = redactStatementText("SELECT E'Ann\\'s', $$Smith$$, x'ff', B'101', 1.5e3, U&'d\\0061ta' FROM t WHERE id = $1", true);
    for (const secret of ['Ann', 'Smith', 'ff', '101', '1.5e3', 'd\\0061ta']) expect(text).not.toContain(secret);
    expect(text).toMatch(/^SELECT \$\d+, \$\d+, \$\d+, \$\d+, \$\d+, \$\d+ FROM t WHERE id = \$1$/);
  });

  it('redacts each text of a shape seen before on its own: no literal of one reaches another', () => {
    for (const ssn of ['111-11-1111', '222-22-2222']) {
      expect(redactStatementText(`SELECT id FROM clinical.patients WHERE ssn = '${ssn}'`, true)).toBe('SELECT id FROM clinical.patients WHERE ssn = $1');
      const utility = redactStatementText(`EXECUTE p('${ssn}', 42)`, true);
      expect(utility).not.toContain(ssn);
      expect(utility).toMatch(/^EXECUTE p\(\$\d+, \$\d+\)$/);
    }
  });

  // R7-2: normalization leaves the constants of most utility statements as they are.
  it.each([
    "EXECUTE p('123-45-6789', 42)",
    "PREPARE p AS SELECT id FROM t WHERE ssn = '123-45-6789'",
    "CREATE TEMP TABLE x AS SELECT id FROM t WHERE ssn = '123-45-6789'",
    "CREATE VIEW v AS SELECT 'Jos\u00e9 123-45-6789' AS x, B'101', X'1F', U&'d\\0061t'",
    "COPY (SELECT 1) TO PROGRAM 'echo 123-45-6789'",
    "COMMENT ON TABLE t IS 'Jane Roe 123-45-6789'",
    "ALTER TABLE t ALTER COLUMN c SET DEFAULT '123-45-6789'",
  ])('replaces the literals of a utility statement: %s', (sql) => {
    const text = redactStatementText(sql, true);
    for (const secret of ['123-45-6789', 'Jane', '42', '101', '1F', 'd\\0061t']) expect(text).not.toContain(secret);
    expect(text).toMatch(/\$1/);
  });

  it('numbers the placeholders it adds after those normalization wrote, and keeps text around non-ASCII', () => {
    expect(redactStatementText("SELECT 'é' AS \"ü\" ORDER BY 1", true)).toBe('SELECT $1 AS "ü" ORDER BY $2');
    expect(redactStatementText("EXECUTE p($1, 'x', 'é')", true)).toBe('EXECUTE p($1, $2, $3)');
  });

  it('redacts statements that differ only in their literals alike, and never mixes up their shapes', () => {
    expect(redactStatementText('SELECT abalance FROM pgbench_accounts WHERE aid = 4711', true)).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = $1');
    expect(redactStatementText('SELECT abalance FROM pgbench_accounts WHERE aid = 815', true)).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = $1');
    expect(redactStatementText("COMMENT ON TABLE t IS 'Jane Roe'", true)).toBe('COMMENT ON TABLE t IS $1');
    expect(redactStatementText("COMMENT ON TABLE t IS 'John Doe'", true)).toBe('COMMENT ON TABLE t IS $1');
    expect(redactStatementText("SELECT 'a', 2 FROM t", true)).toBe('SELECT $1, $2 FROM t');
    expect(redactStatementText("SELECT 'b', 3 FROM u", true)).toBe('SELECT $1, $2 FROM u');
  });

  it('keeps nothing of a statement the parser rejected, only its length and a hash', () => {
    const text = redactStatementText("SELECT 'Jane Roe", false);
    expect(text).not.toContain('Jane');
    expect(text).toMatch(/^<unparsed statement: 16 bytes, sha256 [0-9a-f]{16}>$/);
  });

  it("keeps a fast-path FunctionCall's recorded text with its OID (the client's number) as a placeholder", () => {
    expect(redactStatementText(fastPathStatementText(123456789), false)).toBe('<fast-path function call: oid $1>');
    // Anything else in that form is an unparsed statement like any other.
    expect(redactStatementText('<fast-path function call: oid 1 Jane>', false)).toMatch(/^<unparsed statement: /);
  });
});

describe('redactRecord', () => {
  const identity = { subject: 'a', issuer: 'i', groups: [], roles: [], name: null };
  it('redacts the statement, the forwarded text, the input text and a parse error reason', () => {
    const input = { statement: { text: "SELECT 1 FROM p WHERE name = 'Jane Roe'" } } as unknown as Extract<AuditRecord, { type: 'statement' }>['input'];
    const record: AuditRecord = {
      v: 1,
      type: 'statement',
      time: '2026-01-01T00:00:00.000Z',
      decision_id: 'd',
      session_id: 's',
      identity,
      client_address: '',
      application_name: '',
      statement: "SELECT 1 FROM p WHERE name = 'Jane Roe'",
      forwarded: "SELECT 1 FROM (SELECT x) p WHERE name = 'Jane Roe'",
      fingerprint: 'f',
      input,
      decision: 'allow',
      reason: 'ok',
      policies: [],
      masks: [],
      engine: 'rego',
      revision: 'r',
    };
    const out = JSON.stringify(redactRecord(record));
    expect(out).not.toContain('Jane');
    expect(out).toContain('SELECT $1 FROM p WHERE name = $2');
    const unparsed: AuditRecord = { ...record, statement: "SELEC 'Jane Roe'", forwarded: undefined, fingerprint: '', input: null, reason: 'statement could not be parsed: syntax error at or near "SELEC \'Jane Roe\'"' } as AuditRecord;
    delete (unparsed as { forwarded?: string }).forwarded;
    expect(JSON.stringify(redactRecord(unparsed))).not.toContain('Jane');
  });

  it('blanks quoted values in error messages of outcomes', () => {
    expect(redactMessage('invalid input syntax for type integer: "123-45-6789"')).toBe('invalid input syntax for type integer: "?"');
    const r: AuditRecord = { v: 1, type: 'outcome', time: 't', decision_id: 'd', session_id: 's', identity: { subject: 'alice', issuer: 'https://idp.example', groups: [], roles: [], name: null }, revision: 'dir:abc', outcome: { status: 'error', sqlstate: '22P02', message: 'invalid input syntax for type date: "Jane"' } };
    expect(JSON.stringify(redactRecord(r))).not.toContain('Jane');
  });

  it('blanks values PostgreSQL shows without quotes (R7-4), keeping short numbers', () => {
    expect(redactMessage('date field value out of range: 123-45-6789')).toBe('date field value out of range: ?');
    expect(redactMessage('requested character too large for encoding: 123456789')).toBe('requested character too large for encoding: ?');
    expect(redactMessage('setseed parameter 12.5 is out of allowed range [-1,1]')).toBe('setseed parameter ? is out of allowed range [-1,1]');
    expect(redactMessage('invalid byte sequence for encoding "UTF8": 0xf0 0x37 0x33 0x31')).toBe('invalid byte sequence for encoding "?": ? ? ? ?');
    expect(redactMessage('value too long for type character varying(11)')).toBe('value too long for type character varying(11)');
  });
});

describe('redactStatementText with the shape the parse found', () => {
  it('gives what normalizing the text gives', () => {
    const shape = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    expect(redactStatementText('SELECT abalance FROM pgbench_accounts WHERE aid = 99', true, shape)).toBe(shape);
    // and the same text without its shape (normalized here) gives the same
    expect(redactStatementText('SELECT abalance FROM pgbench_accounts WHERE aid = 99', true)).toBe(shape);
    expect(redactStatementText("COMMENT ON TABLE t IS 'Ann'", true, "COMMENT ON TABLE t IS 'Ann'")).toBe('COMMENT ON TABLE t IS $1');
  });
});

describe('the redacted text a statement record carries', () => {
  const record = (statement: string, handed?: string): AuditRecord => ({
    v: 1,
    type: 'statement',
    time: '2026-01-01T00:00:00.000Z',
    decision_id: 'd',
    session_id: 's',
    identity: { subject: 'a', issuer: 'i', groups: [], roles: [], name: null },
    client_address: '',
    application_name: '',
    statement,
    ...(handed === undefined ? {} : { [REDACTED_STATEMENT]: handed }),
    fingerprint: 'f',
    input: { statement: { text: statement } } as unknown as Extract<AuditRecord, { type: 'statement' }>['input'],
    decision: 'allow',
    reason: 'ok',
    policies: [],
    masks: [],
    engine: 'rego',
    revision: 'r',
  });

  it('is what redactRecord writes, in the statement and the input, without redacting the text again', () => {
    const out = redactRecord(record('SELECT abalance FROM pgbench_accounts WHERE aid = 4711', 'SELECT abalance FROM pgbench_accounts WHERE aid = $1 /* handed */')) as Extract<AuditRecord, { type: 'statement' }>;
    expect(out.statement).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = $1 /* handed */');
    expect((out.input as unknown as { statement: { text: string } }).statement.text).toBe(out.statement);
  });

  it('is never written: neither JSON.stringify nor the record serializer sees a symbol key', () => {
    const r = record("SELECT 1 FROM p WHERE name = 'Jane Roe'", 'SELECT $1 FROM p WHERE name = $2 /* handed */');
    expect(JSON.stringify(r)).not.toContain('handed');
    expect(recordBody(r)).not.toContain('handed');
    const redacted = redactRecord(r);
    expect(JSON.stringify(redacted)).not.toContain('Jane');
    expect(recordBody(redacted)).not.toContain('Jane');
  });

  it('is ignored for a statement that did not parse (its text is never kept)', () => {
    const r = { ...record("SELEC 'Jane Roe'", "SELEC 'Jane Roe'"), fingerprint: '' } as AuditRecord;
    expect(JSON.stringify(redactRecord(r))).not.toContain('Jane');
  });

  it('leaves no entry by text when the shape is known: a new literal each time costs no cache entry', () => {
    const shape = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    const before = redactionCacheSizes().byText;
    for (let aid = 1; aid <= 50; aid++) expect(redactStatementText(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid + 900_000}`, true, shape)).toBe(shape);
    expect(redactionCacheSizes().byText).toBe(before);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { GatehouseError } from '../errors.ts';
import { openAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';

const SCHEMA_URL = new URL('../../../schemas/audit-record.schema.json', import.meta.url);

function schemaValidator(): (value: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_URL, 'utf8')));
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

const time = (): string => new Date().toISOString();
/** Who and which revision, as every outcome record repeats them. */
const WHO = { identity: { subject: 'alice', issuer: 'https://idp.example', groups: ['analysts'], roles: [], name: null }, revision: 'dir:abc' };
const identity = { subject: 'alice', issuer: 'https://idp.example.com', groups: ['analysts'], roles: [], name: null };

const RECORDS: AuditRecord[] = [
  {
    v: 1,
    type: 'session',
    time: time(),
    session_id: 's1',
    event: 'auth_ok',
    client_address: '127.0.0.1:50000',
    application_name: 'psql',
    identity,
    reason: null,
  },
  {
    v: 1,
    type: 'policy',
    time: time(),
    event: 'activated',
    revision: 'dir:abc',
    engine: 'rego',
    reason: null,
  },
  {
    v: 1,
    type: 'statement',
    time: time(),
    decision_id: 'd1',
    session_id: 's1',
    identity,
    client_address: '127.0.0.1:50000',
    application_name: 'psql',
    statement: "SELECT email FROM public.customers WHERE id = 'x\"\n'",
    fingerprint: 'a1b2',
    input: {
      version: 2,
      identity,
      session: { id: 's1', client_address: '127.0.0.1:50000', application_name: 'psql', database: 'shop', user: 'alice', tls: true },
      statement: {
        text: 'SELECT email FROM public.customers WHERE id = $1',
        fingerprint: 'a1b2',
        protocol: 'simple',
        kind: 'select',
        command: 'SelectStmt',
        tables_read: ['public.customers'],
        tables_written: [],
        columns: { 'public.customers': ['email', 'id'] },
        functions: [],
        runs_sql_text: false,
        has_where: true,
        unbounded_writes: false,
        locks_rows: false,
        has_limit: false,
        writes: false,
        cte_writes: false,
        explain_analyze: false,
        inner_kind: null,
        prepared_name: null,
        copy: null,
        setting: null,
        settings: [],
      },
    },
    decision: 'mask',
    reason: 'analysts see masked emails',
    policies: ['mask_pii'],
    masks: [{ table: 'public.customers', column: 'email', strategy: 'redact' }],
    engine: 'rego',
    revision: 'dir:abc',
  },
  { v: 1, type: 'outcome', time: time(), decision_id: 'd1', session_id: 's1', ...WHO, outcome: { status: 'ok', command_tag: 'SELECT 3', rows: 3 } },
  {
    v: 1,
    type: 'statement',
    time: time(),
    decision_id: 'd2',
    session_id: 's1',
    identity: null,
    client_address: '10.0.0.1:1',
    application_name: '',
    statement: 'COPY t TO PROGRAM $$x$$',
    fingerprint: 'ff',
    input: null,
    decision: 'deny',
    reason: 'copy to program',
    policies: [],
    masks: [],
    engine: null,
    revision: null,
  },
  { v: 1, type: 'outcome', time: time(), decision_id: 'd2', session_id: 's1', ...WHO, outcome: { status: 'refused', sqlstate: '42501' } },
  {
    v: 1,
    type: 'outcome',
    time: time(),
    decision_id: 'd3',
    session_id: 's1',
    ...WHO,
    outcome: { status: 'error', sqlstate: '23505', message: 'duplicate key' },
  },
  { v: 1, type: 'outcome', time: time(), decision_id: 'd4', session_id: 's1', ...WHO, outcome: { status: 'aborted' } },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openAuditSink', () => {
  it('writes one schema-valid record per line, on disk before write() returns', async () => {
    const file = join(dir, 'nested/dir/audit.ndjson');
    const sink = openAuditSink(file);
    for (const [i, record] of RECORDS.entries()) {
      sink.write(record);
      // No await: the line must already be in the file.
      expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(i + 2);
    }
    await sink.close();

    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(RECORDS.length);
    const validate = schemaValidator();
    for (const [i, line] of lines.entries()) {
      const parsed: unknown = JSON.parse(line);
      expect(validate(parsed)).toEqual([]);
      // Exactly our fields: nothing added by pino (level, time as number, pid, hostname, msg).
      expect(parsed).toEqual(RECORDS[i]);
    }
  });

  it('writes a deferred record before the next synchronous one, and at close', async () => {
    const file = join(dir, 'deferred.ndjson');
    const sink = openAuditSink(file);
    const outcome: AuditRecord = { v: 1, type: 'outcome', time: time(), decision_id: 'd1', session_id: 's1', ...WHO, outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } };
    sink.writeSoon(outcome);
    sink.write(RECORDS[0]!);
    // Both are on disk when write() returns, the deferred one first.
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([outcome, RECORDS[0]]);
    const last: AuditRecord = { ...outcome, decision_id: 'd2' };
    sink.writeSoon(last);
    await sink.close();
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([outcome, RECORDS[0], last]);
  });

  it('the schema rejects records that do not match the contract', () => {
    const validate = schemaValidator();
    expect(validate({ ...RECORDS[0], v: 2 })).not.toEqual([]);
    expect(validate({ ...RECORDS[0], level: 30 })).not.toEqual([]);
    expect(validate({ ...RECORDS[3], outcome: { status: 'ok' } })).not.toEqual([]);
    expect(validate({ ...RECORDS[2], decision: 'maybe' })).not.toEqual([]);
    expect(validate({ ...RECORDS[1], time: 'yesterday' })).not.toEqual([]);
  });

  it('appends to an existing file and reopens after rotation', async () => {
    const file = join(dir, 'rotate.ndjson');
    const first = openAuditSink(file);
    first.write(RECORDS[0]!);
    await first.close();
    const sink = openAuditSink(file);
    sink.write(RECORDS[1]!);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
    await rename(file, `${file}.1`);
    sink.reopen();
    sink.write(RECORDS[3]!);
    await sink.close();
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readFileSync(`${file}.1`, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it.runIf(existsSync('/dev/full'))('throws AUDIT_WRITE_FAILED when the write fails, and keeps failing', async () => {
    const sink = openAuditSink('/dev/full');
    for (let i = 0; i < 2; i++) {
      let error: unknown = null;
      try {
        sink.write(RECORDS[0]!);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GatehouseError);
      expect((error as GatehouseError).code).toBe('AUDIT_WRITE_FAILED');
    }
    await sink.close();
  });

  it('throws AUDIT_WRITE_FAILED when the file cannot be opened', async () => {
    // A directory component that is a regular file: ENOTDIR.
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, '');
    expect(() => openAuditSink(join(blocker, 'sub/audit.ndjson'))).toThrow(
      expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }),
    );
  });

  it('refuses writes after close', async () => {
    const sink = openAuditSink(join(dir, 'closed.ndjson'));
    await sink.close();
    expect(() => sink.write(RECORDS[0]!)).toThrow(expect.objectContaining({ code: 'AUDIT_WRITE_FAILED' }));
  });
});

import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { GatehouseError } from '../errors.ts';
import { GENESIS, lineHash } from './chain.ts';
import { loadCheckpointKey, loadCheckpointSigner, generateCheckpointKeys, type CheckpointSigner, type CheckpointKey } from './checkpoint.ts';
import { openAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';
import { isUnusedTail } from './unused-tail.ts';
import { verifyAuditFiles } from './verify.ts';

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
let signer: CheckpointSigner;
let publicKey: CheckpointKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
  const keys = await generateCheckpointKeys();
  writeFileSync(join(dir, 'signing.key'), keys.privatePem);
  signer = await loadCheckpointSigner(join(dir, 'signing.key'));
  publicKey = await loadCheckpointKey(keys.publicPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The file's lines parsed, without the chain fields. */
function recordsIn(file: string): Record<string, unknown>[] {
  return lines(file).map((l) => {
    const { seq: _seq, prev: _prev, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

function lines(file: string): string[] {
  const all = readFileSync(file, 'utf8').split('\n');
  expect(all.pop()).toBe('');
  return all;
}

const ours = (rs: Record<string, unknown>[]): Record<string, unknown>[] => rs.filter((r) => r['type'] !== 'sink' && r['type'] !== 'checkpoint');

describe('openAuditSink', () => {
  it('writes one schema-valid, hash-chained record per line, in the file before write() returns', async () => {
    const file = join(dir, 'nested/dir/audit.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    for (const [i, record] of RECORDS.entries()) {
      sink.write(record);
      // No await: the line must already be in the file (after the "opened" record).
      expect(lines(file)).toHaveLength(i + 2);
    }
    await sink.close();

    const all = lines(file);
    expect(all).toHaveLength(RECORDS.length + 1);
    const validate = schemaValidator();
    let prev = GENESIS;
    for (const [i, line] of all.entries()) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(validate(parsed)).toEqual([]);
      expect(parsed['seq']).toBe(i + 1);
      expect(parsed['prev']).toBe(prev);
      prev = lineHash(line);
    }
    expect(recordsIn(file)[0]).toMatchObject({ type: 'sink', event: 'opened', outage: null });
    // Exactly our fields, plus the chain's.
    expect(ours(recordsIn(file))).toEqual(RECORDS);
  });

  it('writes a deferred record before the next synchronous one, and at close', async () => {
    const file = join(dir, 'deferred.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    const outcome: AuditRecord = { v: 1, type: 'outcome', time: time(), decision_id: 'd1', session_id: 's1', ...WHO, outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } };
    sink.writeSoon(outcome);
    sink.write(RECORDS[0]!);
    // Both are in the file when write() returns, the deferred one first.
    expect(ours(recordsIn(file))).toEqual([outcome, RECORDS[0]]);
    const last: AuditRecord = { ...outcome, decision_id: 'd2' };
    sink.writeSoon(last);
    await sink.close();
    expect(ours(recordsIn(file))).toEqual([outcome, RECORDS[0], last]);
  });

  it('whenDurable answers once the records are flushed, one flush for records written together', async () => {
    const file = join(dir, 'durable.ndjson');
    const sink = openAuditSink(file);
    sink.write(RECORDS[0]!);
    const order: string[] = [];
    sink.whenDurable((e) => order.push(`a:${e === null}`));
    sink.write(RECORDS[1]!);
    sink.whenDurable((e) => order.push(`b:${e === null}`));
    expect(order).toEqual([]); // not before the flush
    await new Promise<void>((resolve) => sink.whenDurable(() => resolve()));
    expect(order).toEqual(['a:true', 'b:true']);
    // Nothing new written: answered at once.
    let now = false;
    sink.whenDurable(() => (now = true));
    expect(now).toBe(true);
    await sink.close();
  });

  it('the schema rejects records that do not match the contract', () => {
    const validate = schemaValidator();
    const chained = (r: AuditRecord): Record<string, unknown> => ({ ...r, seq: 1, prev: GENESIS });
    expect(validate(chained(RECORDS[0]!))).toEqual([]);
    expect(validate(RECORDS[0])).not.toEqual([]); // not chained
    expect(validate({ ...chained(RECORDS[0]!), v: 2 })).not.toEqual([]);
    expect(validate({ ...chained(RECORDS[0]!), level: 30 })).not.toEqual([]);
    expect(validate({ ...chained(RECORDS[3]!), outcome: { status: 'ok' } })).not.toEqual([]);
    expect(validate({ ...chained(RECORDS[2]!), decision: 'maybe' })).not.toEqual([]);
    expect(validate({ ...chained(RECORDS[1]!), time: 'yesterday' })).not.toEqual([]);
    expect(validate({ ...chained(RECORDS[1]!), prev: 'abc' })).not.toEqual([]);
  });

  it('continues the chain in an existing file and across rotation, with signed checkpoints that verify', async () => {
    const file = join(dir, 'rotate/audit.ndjson');
    const first = openAuditSink(file, { fsync: false, signer });
    first.write(RECORDS[0]!);
    await first.close(); // shutdown checkpoint
    const sink = openAuditSink(file, { fsync: false, signer });
    sink.write(RECORDS[1]!);
    await rename(file, `${file}.1`);
    await sink.reopen(); // rotation checkpoint into audit.ndjson.1, then a new audit.ndjson
    sink.write(RECORDS[3]!);
    await sink.close();
    const old = recordsIn(`${file}.1`);
    expect(old.map((r) => r['type'])).toEqual(['sink', 'session', 'checkpoint', 'sink', 'policy', 'checkpoint']);
    expect(recordsIn(file).map((r) => r['type'])).toEqual(['outcome', 'checkpoint']);
    // The new file's first record links to the rotated file's last line.
    expect((JSON.parse(lines(file)[0]!) as { prev: string }).prev).toBe(lineHash(lines(`${file}.1`).at(-1)!));
    const report = await verifyAuditFiles([file, `${file}.1`], publicKey);
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ status: 'ok', checkpoints: 3, lastSeq: 8, protectedThrough: 7 });
  });

  it('records written while a checkpoint is signed are covered by the next one, also when nothing follows them', async () => {
    // They land between the head the checkpoint signed and its own record. Before, the sink took its
    // record for the new head: the shutdown checkpoint found nothing to sign and they stayed unprotected.
    const file = join(dir, 'signing-race.ndjson');
    // The real signer; what `whileSigning` holds is written once a signature is made, before the sink has it.
    let whileSigning: AuditRecord[] = [];
    const slowSigner: CheckpointSigner = {
      ...signer,
      sign: async (payload) => {
        const jws = await signer.sign(payload);
        for (const r of whileSigning) sink.write(r);
        whileSigning = [];
        return jws;
      },
    };
    const sink = openAuditSink(file, { fsync: false, signer: slowSigner, checkpointIntervalMs: 3_600_000 });
    sink.write(RECORDS[0]!);
    whileSigning = [RECORDS[1]!, RECORDS[2]!];
    await sink.checkpoint('interval');
    expect(recordsIn(file).map((r) => r['type'])).toEqual(['sink', 'session', 'policy', 'statement', 'checkpoint']);
    whileSigning = [RECORDS[3]!]; // written while the shutdown checkpoint is signed
    await sink.close();
    const report = await verifyAuditFiles([file], publicKey);
    expect(report.findings).toEqual([]);
    expect(report.protectedThrough).toBe(report.lastSeq - 1);
    expect(ours(recordsIn(file))).toEqual(RECORDS.slice(0, 4));
  });

  it('rotates by itself once the file reaches rotate.maxBytes; every file verifies as one log', async () => {
    const file = join(dir, 'rotate-size/audit.ndjson');
    const rotated: string[] = [];
    const sink = openAuditSink(file, { fsync: false, signer, rotate: { maxBytes: 2048, intervalMs: null }, onRotated: (f) => rotated.push(f) });
    for (let i = 0; i < 12; i++) {
      sink.write(RECORDS[i % RECORDS.length]!);
      await new Promise((r) => setTimeout(r, 5)); // lets a rotation that became due (signing its checkpoint) go on
    }
    await sink.close(); // waits for a rotation in progress
    expect(rotated.length).toBeGreaterThan(0);
    expect(statSync(rotated[0]!).size).toBeGreaterThanOrEqual(2048);
    for (const f of rotated) {
      expect(f).toMatch(/audit\.ndjson\.\d{8}T\d{6}Z(-\d+)?$/);
      expect(recordsIn(f).at(-1)?.['type']).toBe('checkpoint'); // each rotated file ends with its rotation checkpoint
    }
    const report = await verifyAuditFiles([file, ...rotated].reverse(), publicKey);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('ok');
  });

  it('rotate() moves a file with records aside and does nothing for an empty one', async () => {
    const file = join(dir, 'rotate-now/audit.ndjson');
    const sink = openAuditSink(file, { fsync: false, signer });
    sink.write(RECORDS[0]!);
    const to = await sink.rotate();
    expect(to).not.toBeNull();
    expect(existsSync(to!)).toBe(true);
    expect(await sink.rotate()).toBeNull(); // the new file is still empty
    sink.write(RECORDS[1]!);
    await sink.close();
    expect(recordsIn(file).map((r) => r['type'])).toEqual([RECORDS[1]!.type, 'checkpoint']);
    expect((await verifyAuditFiles([file, to!], publicKey)).status).toBe('ok');
  });

  it('cuts a torn last line (a crash mid-write) before continuing the chain', async () => {
    const file = join(dir, 'torn.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    sink.write(RECORDS[0]!);
    await sink.close();
    appendFileSync(file, '{"v":1,"seq":3,"prev":"ab');
    const again = openAuditSink(file, { fsync: false });
    await again.close();
    const all = lines(file);
    expect(all.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3]);
    // The chain is whole; without checkpoints nothing is signed, which is all verify finds.
    expect((await verifyAuditFiles([file], null)).findings.map((f) => f.kind)).toEqual(['unsigned']);
  });

  it.runIf(existsSync('/dev/full'))('refuses with AUDIT_DISK_FULL (53100) while the disk is full, and keeps refusing', async () => {
    const problems: string[] = [];
    const sink = openAuditSink('/dev/full', { fsync: false, retryMs: 60_000, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
    for (let i = 0; i < 2; i++) {
      let error: unknown = null;
      try {
        sink.write(RECORDS[2]!);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GatehouseError);
      expect((error as GatehouseError).code).toBe('AUDIT_DISK_FULL');
      expect((error as GatehouseError).sqlstate).toBe('53100');
    }
    expect(sink.health()).toMatchObject({ writable: false });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^error: .*ENOSPC/);
    await sink.close();
  });

  // Also preallocated: the chunk no longer fits, then not even the batch; the zero tail is no line.
  // And with a write-ahead ring (made while there was room): the log's appends fail as without it.
  it.runIf(process.getuid?.() === 0).each([
    [0, 0],
    [64 * 1024, 0],
    [0, 64 * 1024],
  ])('on a full tmpfs: refuses, leaves no partial line, and recovers by itself when space returns (preallocate %i, ring %i)', async (preallocateBytes, ringBytes) => {
    const mnt = join(dir, `tmpfs-${preallocateBytes}-${ringBytes}`);
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    } catch {
      return; // no mount here (not a privileged container): /dev/full above covers the refusal
    }
    try {
      const file = join(mnt, 'audit.ndjson');
      const problems: string[] = [];
      const sink = openAuditSink(file, { signer, retryMs: 50, preallocateBytes, ringBytes, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
      sink.write(RECORDS[2]!);
      // Fill the rest of the file system.
      const filler = join(mnt, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(1024 * 1024));
      } catch {
        // ENOSPC once full: what we wanted
      }
      const big = { ...RECORDS[2]!, reason: 'x'.repeat(64 * 1024) } as AuditRecord;
      let refused = 0;
      for (let i = 0; i < 5; i++) {
        try {
          sink.write(big);
        } catch (e) {
          expect((e as GatehouseError).sqlstate).toBe('53100');
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
      expect(problems.some((p) => p.startsWith('error: '))).toBe(true);
      await new Promise((r) => setImmediate(r)); // preallocated, records accepted this turn are written at its end
      // Every line parses: the failed batch was cut back.
      const live = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !isUnusedTail(l));
      expect(live.length).toBeGreaterThan(0);
      for (const l of live) expect(() => JSON.parse(l)).not.toThrow();
      rmSync(filler);
      await waitFor(() => sink.health().writable);
      sink.write(RECORDS[2]!);
      await sink.close();
      const recovered = recordsIn(file).find((r) => r['type'] === 'sink' && r['event'] === 'recovered');
      expect(recovered).toMatchObject({ outage: { reason: 'ENOSPC' } });
      expect((recovered!['outage'] as { refused: number }).refused).toBe(refused);
      expect(problems.at(-1)).toMatch(/^info: .*writable again/);
      const report = await verifyAuditFiles([file], publicKey);
      expect(report.findings).toEqual([]);
      expect(report.status).toBe('ok');
    } finally {
      execFileSync('umount', [mnt]);
    }
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

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(done()).toBe(true);
}

// Adversarial review of built-in rotation: chain continuity across a restart, rotation racing close().
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCheckpointKeys, loadCheckpointKey, loadCheckpointSigner, type CheckpointKey, type CheckpointSigner } from './checkpoint.ts';
import { openAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';
import { verifyAuditFiles } from './verify.ts';
import { writeFileSync } from 'node:fs';

const record = (): AuditRecord => ({ v: 1, type: 'session', time: new Date().toISOString(), session_id: 's1', event: 'closed', client_address: '', application_name: '', identity: null, reason: null });

let dir: string;
let signer: CheckpointSigner;
let publicKey: CheckpointKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-review-'));
  const keys = await generateCheckpointKeys();
  writeFileSync(join(dir, 'signing.key'), keys.privatePem);
  signer = await loadCheckpointSigner(join(dir, 'signing.key'));
  publicKey = await loadCheckpointKey(keys.publicPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('built-in rotation (review)', () => {
  it('without a signer, a restart right after a rotation continues the chain of the rotated file', async () => {
    const file = join(dir, 'nosigner/audit.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    sink.write(record());
    const to = await sink.rotate();
    expect(to).not.toBeNull();
    await sink.close(); // the new file is still empty: nothing in it tells where the chain stands
    const again = openAuditSink(file, { fsync: false });
    again.write(record());
    await again.close();
    const report = await verifyAuditFiles([to!, file], null);
    // The chain is whole across the files; without a signer nothing is signed, which is all verify finds.
    expect(report.findings.map((f) => f.kind)).toEqual(['unsigned']);
    expect(report.status).toBe('incomplete');
  });

  it('a rotation asked for while close() signs its shutdown checkpoint does not reopen the file after close', async () => {
    const file = join(dir, 'closing/audit.ndjson');
    const slow: CheckpointSigner = { ...signer, sign: async (p) => { await new Promise((r) => setTimeout(r, 50)); return signer.sign(p); } } as CheckpointSigner;
    const sink = openAuditSink(file, { fsync: false, signer: slow });
    sink.write(record());
    const closing = sink.close();
    await new Promise((r) => setImmediate(r)); // close() now waits for its shutdown checkpoint's signature
    const rotating = sink.rotate(); // as a write reaching rotate.maxBytes, or the rotation interval, would
    await closing;
    const to = await rotating;
    // Closed means closed: the log stays where close() left it, ending with the shutdown checkpoint.
    expect(to).toBeNull();
    expect(readdirSync(join(dir, 'closing'))).not.toContainEqual(expect.stringMatching(/audit\.ndjson\.\d/));
    const last = readFileSync(file, 'utf8').trimEnd().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ type: 'checkpoint' });
    expect(existsSync(file)).toBe(true);
    expect((await verifyAuditFiles([file], publicKey)).status).toBe('ok');
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
let t: TestGateway; let ref: TestGateway;
beforeAll(async () => {
  ref = await startTestGateway();
  const kf = join(ref.workDir, 'k'); writeFileSync(kf, Buffer.alloc(32, 1));
  t = await startTestGateway({ audit: { phi_tables: { 'clinical.patients': { subject: 'id' }, 'clinical.visits': { subject: 'patient_id' } }, subject_key: kf } });
}, 120_000);
afterAll(async () => { await t?.close(); await ref?.close(); });
it('probe', async () => {
  for (const group of ['agents', 'breakglass', 'support']) {
    const a = await t.client(await t.token('x', [group]));
    const b = await ref.client(await ref.token('x', [group]));
    for (const sql of [
      'SELECT first_name FROM clinical.patients ORDER BY 2 LIMIT 2',
      'SELECT first_name FROM clinical.patients p ORDER BY 2 DESC LIMIT 2',
      'SELECT v.reason FROM clinical.visits v ORDER BY 2 LIMIT 2',
      'CREATE TEMP TABLE patients (id int, first_name text)',
      "SET search_path = pg_temp, clinical",
      'SELECT id, first_name FROM patients LIMIT 2',
      'SELECT * FROM clinical.patients p WHERE p.id = 1 FOR UPDATE',
      'COPY (SELECT id FROM clinical.patients LIMIT 1) TO STDOUT',
    ]) {
      const r = async (c: typeof a) => c.query(sql).then((x) => JSON.stringify([x.command, x.fields.map((f) => f.name), x.rows]).slice(0, 200), (e: { code?: string; message: string }) => `ERR ${e.code} ${e.message}`.slice(0, 200));
      console.log(group, '|', sql, '\n   T  :', await r(a), '\n   REF:', await r(b));
    }
  }
});
